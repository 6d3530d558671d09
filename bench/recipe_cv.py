"""Compares fine-tuning recipes for EfficientNet-Lite0 by stratified k-fold cross-validation over
train + validation, on a GPU with PyTorch: how the recipe in modules/model.py was chosen.

A research aid, not part of the pipeline: it needs PyTorch and a GPU, which the pipeline and its
lock file do not (a CPU run of one recipe's five folds would take ~1.5 hours). It mirrors the
Keras model (modules/efficientnet_lite.py: TensorFlow "same" padding, ReLU6, BatchNorm epsilon 1e-3
and momentum 0.99, (pixel - 127) / 128) and the Trainer's recipe (Adam, batch 32, dropout 0.2,
balanced class weights, flip / +-18 degree rotation / 0.8-1.1 zoom with reflection), and checks
its features against the Keras model's before use (`check`). Each fold trains from the ImageNet
weights and reports the last epoch's accuracy, balanced accuracy, weakest class and the same with
horizontal-flip test-time augmentation.

    .venv/bin/python bench/recipe_cv_pack.py --data-root DATA --output cv_kit   # here
    cp bench/recipe_cv.py cv_kit/ && cd cv_kit                                 # on the GPU machine:
    python3 -c "import recipe_cv; recipe_cv.check()"
    python3 recipe_cv.py new_default '{"lr":5e-4,"sched":"cos","warmup":1}' 5 results/
    python3 recipe_cv.py old_default '{"lr":1e-4}' 5 results/

The recipes compared, and the results: docs/recipe_cv.md.
"""
import io, json, math, os, sys, tarfile, time
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))

def same_pad(x, k, s):
    n = x.shape[-1]; out = math.ceil(n / s); total = max((out - 1) * s + k - n, 0)
    a = total // 2; return F.pad(x, (a, total - a, a, total - a))

class ConvBN(nn.Module):
    def __init__(s, cin, cout, k, stride, groups=1, act=True):
        super().__init__(); s.k, s.s, s.act = k, stride, act
        s.conv = nn.Conv2d(cin, cout, k, stride, 0, groups=groups, bias=False)
        s.bn = nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01)
    def forward(s, x):
        x = s.bn(s.conv(same_pad(x, s.k, s.s)))
        return F.relu6(x) if s.act else x

class Block(nn.Module):
    def __init__(s, e, k, stride, cin, cout):
        super().__init__(); mid = cin * e
        s.expand = ConvBN(cin, mid, 1, 1) if e != 1 else None
        s.dw = ConvBN(mid, mid, k, stride, groups=mid)
        s.project = ConvBN(mid, cout, 1, 1, act=False)
        s.residual = stride == 1 and cin == cout
    def forward(s, x):
        y = s.expand(x) if s.expand is not None else x
        y = s.project(s.dw(y))
        return x + y if s.residual else y

class Lite0(nn.Module):
    def __init__(s, classes, dropout=0.2):
        super().__init__(); s.stem = ConvBN(3, 32, 3, 2); blocks, f = [], 32
        for e, k, st, out, rep in STAGES:
            for r in range(rep): blocks.append(Block(e, k, st if r == 0 else 1, f, out)); f = out
        s.blocks = nn.ModuleList(blocks); s.head = ConvBN(320, 1280, 1, 1)
        s.drop = nn.Dropout(dropout); s.fc = nn.Linear(1280, classes)
    def features(s, x):  # x in [0,1]
        x = s.stem(x * (255 / 128) - 127 / 128)
        for b in s.blocks: x = b(x)
        return s.head(x).mean((2, 3))
    def forward(s, x): return s.fc(s.drop(s.features(x)))

def load_imagenet(m, path):
    w = {k: torch.from_numpy(v.astype(np.float32)) for k, v in np.load(path).items()}
    def cb(mod, conv, bn):
        mod.conv.weight.data.copy_(w[f"{conv}.weight"])
        for a, b in (("weight", "weight"), ("bias", "bias"), ("running_mean", "running_mean"), ("running_var", "running_var")):
            getattr(mod.bn, a).data.copy_(w[f"{bn}.{b}"])
    cb(m.stem, "_conv_stem", "_bn0"); cb(m.head, "_conv_head", "_bn1")
    for i, b in enumerate(m.blocks):
        t = f"_blocks.{i}"
        if b.expand is not None: cb(b.expand, f"{t}._expand_conv", f"{t}._bn0")
        cb(b.dw, f"{t}._depthwise_conv", f"{t}._bn1"); cb(b.project, f"{t}._project_conv", f"{t}._bn2")

def load_images(tar_path):
    xs, ys, split = [], [], []; classes = None
    with tarfile.open(tar_path) as tar:
        members = [m for m in tar.getmembers() if m.isfile()]
        classes = sorted({m.name.split("/")[1] for m in members})
        for m in members:
            sp, c, _ = m.name.split("/")
            xs.append(np.asarray(Image.open(io.BytesIO(tar.extractfile(m).read())).convert("RGB")))
            ys.append(classes.index(c)); split.append(sp)
    return np.stack(xs), np.array(ys), np.array(split), classes

def augment(x, g, zoom=(0.8, 1.1), rot=0.05 * 2 * math.pi, translate=0.0, color=0.0, aspect=0.0):
    n = x.shape[0]; dev = x.device
    flip = torch.where(torch.rand(n, generator=g, device=dev) < 0.5, -1.0, 1.0)
    ang = (torch.rand(n, generator=g, device=dev) * 2 - 1) * rot
    z = zoom[0] + torch.rand(n, generator=g, device=dev) * (zoom[1] - zoom[0])
    asp = torch.exp((torch.rand(n, generator=g, device=dev) * 2 - 1) * aspect)
    zx, zy = z * asp.sqrt(), z / asp.sqrt()
    tx = (torch.rand(n, generator=g, device=dev) * 2 - 1) * translate * 2
    ty = (torch.rand(n, generator=g, device=dev) * 2 - 1) * translate * 2
    c, s = torch.cos(ang), torch.sin(ang)
    theta = torch.stack([torch.stack([zx * c * flip, -zy * s, tx], 1), torch.stack([zx * s * flip, zy * c, ty], 1)], 1)
    grid = F.affine_grid(theta, x.shape, align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    if color:
        b = 1 + (torch.rand(n, 1, 1, 1, generator=g, device=dev) * 2 - 1) * color
        ct = 1 + (torch.rand(n, 1, 1, 1, generator=g, device=dev) * 2 - 1) * color
        sat = 1 + (torch.rand(n, 1, 1, 1, generator=g, device=dev) * 2 - 1) * color
        gray = x.mean(1, keepdim=True); x = gray + (x - gray) * sat
        m = x.mean((1, 2, 3), keepdim=True); x = m + (x - m) * ct
        x = (x * b).clamp(0, 1)
    return x

def prep(xu8, res):
    x = xu8.permute(0, 3, 1, 2).float() / 255
    if x.shape[-1] != res: x = F.interpolate(x, size=(res, res), mode="bilinear", antialias=True, align_corners=False)
    return x.contiguous(memory_format=torch.channels_last)

def run_fold(X, Y, Y_gpu, tr, va, cfg, classes, fold, dev):
    torch.manual_seed(111 + fold); g = torch.Generator(device=dev); g.manual_seed(111 + fold)
    model = Lite0(len(classes), cfg.get("dropout", 0.2)); load_imagenet(model, os.path.join(HERE, "lite0.npz"))
    model = model.to(dev).to(memory_format=torch.channels_last)
    counts = np.bincount(Y[tr], minlength=len(classes))
    cw = torch.tensor(len(tr) / (len(classes) * counts), dtype=torch.float32, device=dev) if cfg.get("cw", True) else None
    epochs = cfg.get("epochs", 8); bs = cfg.get("bs", 32); steps = math.ceil(len(tr) / bs)
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], eps=1e-7)
    sched = cfg.get("sched", "const"); warm = cfg.get("warmup", 0) * steps; total = epochs * steps
    def lr_at(it):
        if it < warm: return cfg["lr"] * (it + 1) / warm
        if sched == "cos": return cfg["lr"] * 0.5 * (1 + math.cos(math.pi * (it - warm) / max(1, total - warm)))
        return cfg["lr"]
    res = cfg.get("res", 224); hist = []; it = 0
    for ep in range(epochs):
        model.train(); perm = torch.randperm(len(tr), generator=torch.Generator().manual_seed(1000 * fold + ep)).numpy()
        for i in range(steps):
            idx = tr[perm[i * bs:(i + 1) * bs]]
            x = prep(X[idx], res); y = Y_gpu[idx]
            if cfg.get("aug", True): x = augment(x, g, **cfg.get("augkw", {}))
            for pg in opt.param_groups: pg["lr"] = lr_at(it)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                logits = model(x)
            loss = F.cross_entropy(logits.float(), y, reduction="none", label_smoothing=cfg.get("ls", 0.0))
            if cw is not None: loss = loss * cw[y]
            loss = loss.mean(); opt.zero_grad(set_to_none=True); loss.backward(); opt.step(); it += 1
        hist.append(evaluate(model, X, Y, va, res, len(classes), cfg.get("eval_res", res)))
    return hist

@torch.no_grad()
def evaluate(model, X, Y, va, res, nc, eval_res):
    model.eval(); probs, probs_flip = [], []
    for i in range(0, len(va), 256):
        x = prep(X[va[i:i + 256]], eval_res)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            probs.append(F.softmax(model(x).float(), 1)); probs_flip.append(F.softmax(model(x.flip(-1)).float(), 1))
    p = torch.cat(probs).cpu().numpy(); pf = torch.cat(probs_flip).cpu().numpy(); y = Y[va]
    def stats(p):
        pred = p.argmax(1); rec = [(pred[y == c] == c).mean() for c in range(nc)]
        return {"acc": float((pred == y).mean()), "bal": float(np.mean(rec)), "min_recall": float(np.min(rec)),
                "nll": float(-np.log(p[np.arange(len(y)), y] + 1e-9).mean()), "recall": [float(r) for r in rec]}
    return {"plain": stats(p), "tta": stats((p + pf) / 2)}

def main():
    name, cfg = sys.argv[1], json.loads(sys.argv[2]); folds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    out = sys.argv[4] if len(sys.argv) > 4 else "."
    dev = "cuda"; t0 = time.time()
    Xn, Y, split, classes = load_images(os.path.join(HERE, "images.tar"))
    X = torch.from_numpy(Xn).to(dev); Y_gpu = torch.from_numpy(Y).to(dev)
    rng = np.random.RandomState(cfg.get("split_seed", 111)); order = rng.permutation(len(Y))
    fold_of = np.empty(len(Y), int)
    for c in range(len(classes)):  # stratified
        idx = order[Y[order] == c]; fold_of[idx] = np.arange(len(idx)) % folds
    results = []
    for f in range(folds):
        tr, va = np.where(fold_of != f)[0], np.where(fold_of == f)[0]
        results.append(run_fold(X, Y, Y_gpu, tr, va, cfg, classes, f, dev))
        print(name, "fold", f, "last", json.dumps({k: round(v["acc"], 4) for k, v in results[-1][-1].items()}), f"{time.time()-t0:.0f}s", flush=True)
    json.dump({"name": name, "cfg": cfg, "classes": classes, "folds": results, "seconds": time.time() - t0},
              open(os.path.join(out, f"{name}.json"), "w"))

if __name__ == "__main__":
    main()

def check():
    r = np.load(os.path.join(HERE, "reference_features.npz")); names = list(r["names"])
    with tarfile.open(os.path.join(HERE, "images.tar")) as tar:
        x = np.stack([np.asarray(Image.open(io.BytesIO(tar.extractfile(n).read())).convert("RGB")) for n in names])
    m = Lite0(10); load_imagenet(m, os.path.join(HERE, "lite0.npz")); m.eval()
    with torch.no_grad():
        f = m.features(torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255).numpy()
    print("feature check: max abs diff", np.abs(f - r["features"]).max(), "ref scale", np.abs(r["features"]).max(),
          "cos", float((f * r["features"]).sum() / np.linalg.norm(f) / np.linalg.norm(r["features"])))
