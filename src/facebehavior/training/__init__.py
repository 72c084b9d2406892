"""Training: the loop (AMP, DDP), checkpoints (safetensors, atomic, resumable)."""
