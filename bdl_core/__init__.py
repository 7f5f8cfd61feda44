"""bdl_core: Laplace approximations of neural networks for Bayesian optimisation (pure PyTorch)."""
