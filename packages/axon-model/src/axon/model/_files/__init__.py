"""What a model becomes on disk: parameter files (safetensors) and ``jax.export`` artifacts."""
