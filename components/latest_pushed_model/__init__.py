"""LatestPushedModel: the model serving now (the newest pushed version) as the Evaluator's baseline."""
