"""Keras mirrors of the torch models, carrying the same trained weights.

``keras.applications`` builds MobileNetV2, ResNet and InceptionV3, but not the torchvision
networks: Keras pads stride-2 convolutions asymmetrically ('same'), its ResNet is v1 with conv
biases (torchvision's is v1.5), its InceptionV3 has BN without gamma and average pools that leave
the padding out of the mean, and the BN epsilons differ. Transferring weights between them
cannot give the same model. So the mirror is built from the torch model itself: the module is
traced with ``torch.fx`` and every node becomes the Keras layer that computes the same thing in
NHWC (explicit ``ZeroPadding2D`` + 'valid' wherever torch pads, BN epsilon copied, average pools
that count the zero padding as torch does), and the torch weights are copied in. The mirror is a
*reference source*, checked against torch logits when it is built, not a converter under test.
"""

from __future__ import annotations

import operator

import numpy as np


def _pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _conv(module, layers):
    weight = module.weight.detach().numpy()
    padding = _pair(module.padding)
    pad = layers.ZeroPadding2D(padding) if any(padding) else None
    bias = module.bias is not None
    if module.groups == 1:
        layer = layers.Conv2D(
            module.out_channels,
            module.kernel_size,
            module.stride,
            dilation_rate=module.dilation,
            use_bias=bias,
        )
        kernel = weight.transpose(2, 3, 1, 0)
    elif module.groups == module.in_channels == module.out_channels:
        layer = layers.DepthwiseConv2D(
            module.kernel_size, module.stride, dilation_rate=module.dilation, use_bias=bias
        )
        kernel = weight.transpose(2, 3, 0, 1)
    else:
        raise NotImplementedError(f"grouped convolution with groups={module.groups}")
    params = [kernel] + ([module.bias.detach().numpy()] if bias else [])
    return pad, layer, params


def _pool(layers, kind: str, kernel, stride, padding, include_pad: bool = True):
    """Max or average pooling with torch's symmetric padding (zeros; max pools here follow a
    ReLU, so a zero pad never wins)."""
    padding = _pair(padding)
    stride = _pair(stride if stride else kernel)
    pool = (layers.MaxPooling2D if kind == "max" else layers.AveragePooling2D)(
        _pair(kernel), stride, "valid"
    )
    if any(padding) and not include_pad:
        raise NotImplementedError("average pooling that excludes the padding")
    return ([layers.ZeroPadding2D(padding)] if any(padding) else []) + [pool]


def keras_mirror(torch_model, size: int):
    """A Keras 3 functional model computing what ``torch_model`` computes, NHWC in and out."""
    # torch and Keras are optional extras; import on use
    import keras
    import torch
    import torch.nn.functional as F
    from keras import layers
    from torch import fx, nn

    graph = fx.symbolic_trace(torch_model.eval())
    modules = dict(graph.named_modules())
    values: dict[str, object] = {}
    weighted: list[tuple[object, list[np.ndarray]]] = []
    inputs = keras.Input((size, size, 3), name="x")
    for node in graph.graph.nodes:
        args = list(fx.node.map_arg(node.args, lambda n: values[n.name]))
        if node.op == "placeholder":
            values[node.name] = inputs
            continue
        if node.op == "output":
            outputs = args[0]
            break
        x = args[0] if args else None
        if node.op == "call_module":
            module = modules[node.target]
            if isinstance(module, nn.Conv2d):
                pad, layer, params = _conv(module, layers)
                out = layer(pad(x) if pad else x)
                weighted.append((layer, params))
            elif isinstance(module, nn.BatchNorm2d):
                layer = layers.BatchNormalization(epsilon=module.eps)
                out = layer(x)
                weighted.append(
                    (
                        layer,
                        [
                            t.detach().numpy()
                            for t in (
                                module.weight,
                                module.bias,
                                module.running_mean,
                                module.running_var,
                            )
                        ],
                    )
                )
            elif isinstance(module, nn.ReLU):
                out = layers.ReLU()(x)
            elif isinstance(module, nn.ReLU6):
                out = layers.ReLU(max_value=6.0)(x)
            elif isinstance(module, (nn.Dropout, nn.Identity)):
                out = x
            elif isinstance(module, nn.MaxPool2d):
                out = x
                for layer in _pool(
                    layers, "max", module.kernel_size, module.stride, module.padding
                ):
                    out = layer(out)
            elif isinstance(module, nn.AdaptiveAvgPool2d):
                if _pair(module.output_size) != (1, 1):
                    raise NotImplementedError(f"adaptive pooling to {module.output_size}")
                out = layers.GlobalAveragePooling2D(keepdims=True)(x)
            elif isinstance(module, nn.Linear):
                layer = layers.Dense(module.out_features)
                out = layer(x)
                weighted.append(
                    (layer, [module.weight.detach().numpy().T, module.bias.detach().numpy()])
                )
            else:
                raise NotImplementedError(f"no Keras mirror for {type(module).__name__}")
        elif node.target in (operator.add, operator.iadd, torch.add):
            out = layers.Add()(args[:2])
        elif node.target is torch.cat:
            axis = node.kwargs.get("dim", args[1] if len(args) > 1 else 0)
            if axis != 1:
                raise NotImplementedError(f"concatenation on axis {axis}")
            out = layers.Concatenate(axis=-1)(list(x))
        elif node.target is torch.flatten:
            out = layers.Flatten()(x)  # after a 1x1 pool, NHWC and NCHW orders agree
        elif node.target in (F.relu, torch.relu):
            out = layers.ReLU()(x)
        elif node.target is F.adaptive_avg_pool2d:
            out = layers.GlobalAveragePooling2D(keepdims=True)(x)
        elif node.target in (F.avg_pool2d, F.max_pool2d):
            given = dict(zip(("kernel_size", "stride", "padding"), args[1:], strict=False))
            given.update(node.kwargs)
            kind = "avg" if node.target is F.avg_pool2d else "max"
            out = x
            for layer in _pool(
                layers,
                kind,
                given["kernel_size"],
                given.get("stride"),
                given.get("padding", 0),
                given.get("count_include_pad", True),
            ):
                out = layer(out)
        elif node.target is getattr and args[1] == "shape":
            raise NotImplementedError("shape-dependent torch code")
        else:
            raise NotImplementedError(f"no Keras mirror for {node.op} {node.target}")
        values[node.name] = out
    model = keras.Model(inputs, outputs)
    for layer, params in weighted:
        layer.set_weights(params)
    return model


def check_mirror(torch_model, mirror, images_nchw: np.ndarray) -> float:
    """Max abs difference between torch's and the mirror's logits on ``images_nchw``."""
    # torch is an optional extra; import on use
    import torch

    with torch.no_grad():
        expected = torch_model.eval()(torch.from_numpy(images_nchw)).numpy()
    actual = mirror(np.ascontiguousarray(images_nchw.transpose(0, 2, 3, 1)), training=False)
    return float(np.abs(expected - np.asarray(actual)).max())
