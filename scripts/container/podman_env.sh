# Sourced, not run: the podman settings that make plain `podman build` / `podman run` work on these
# machines (root without CAP_SYS_RESOURCE, a cgroup v1/v2 hybrid): runc instead of crun, limits
# below what the kernel lets root raise, overlay storage chosen from the first use. The storage lives
# outside the checkout, so images survive a fresh clone.
CONTAINER_HOME="${CONTAINER_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/image-pipeline-containers}"
mkdir -p "$CONTAINER_HOME/storage" "$CONTAINER_HOME/run"
cat > "$CONTAINER_HOME/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
CONF
cat > "$CONTAINER_HOME/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$CONTAINER_HOME/storage"
runroot = "$CONTAINER_HOME/run"
CONF
export CONTAINERS_CONF="$CONTAINER_HOME/containers.conf" CONTAINERS_STORAGE_CONF="$CONTAINER_HOME/storage.conf"
