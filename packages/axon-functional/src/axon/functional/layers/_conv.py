"""Convolutions: conv, conv_transpose, depthwise_conv, separable_conv2d/3d."""

__all__: list[str] = []
