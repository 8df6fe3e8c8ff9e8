"""The exact fast form of the decoders' transposed convolutions (segment/speedups.py)."""

from __future__ import annotations

import pytest
import torch

from inpaint_anything.segment.checkpoint import load_sam
from inpaint_anything.segment.speedups import PatchExpand, reference_forward, speed_up_decoders


@pytest.mark.parametrize(("cin", "cout", "k", "bias"), [(8, 4, 2, True), (6, 3, 2, False), (5, 7, 3, True)])
def test_patch_expand_equals_transposed_convolution(cin, cout, k, bias):
    torch.manual_seed(0)
    conv = torch.nn.ConvTranspose2d(cin, cout, kernel_size=k, stride=k, bias=bias)
    fast = PatchExpand.from_conv(conv)
    x = torch.randn(2, cin, 5, 7)
    expected = reference_forward(conv, x)
    got = fast(x)
    assert got.shape == expected.shape == (2, cout, 5 * k, 7 * k)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert fast.weight is conv.weight  # parameters shared, not copied


@pytest.mark.parametrize(
    "conv",
    [
        torch.nn.ConvTranspose2d(4, 4, kernel_size=3, stride=2),
        torch.nn.ConvTranspose2d(4, 4, kernel_size=2, stride=2, padding=1),
        torch.nn.ConvTranspose2d(4, 4, kernel_size=2, stride=2, groups=2),
        torch.nn.Conv2d(4, 4, kernel_size=2, stride=2),
    ],
)
def test_only_non_overlapping_transposed_convolutions_qualify(conv):
    assert not PatchExpand.qualifies(conv)


@pytest.mark.parametrize("kind", ["sam", "sam_hq", "mobile_sam"])
def test_decoder_swap_keeps_weights_and_outputs(tiny_sam_files, kind):
    loaded = load_sam(tiny_sam_files[kind])
    model = loaded.model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    convs = [m for m in model.mask_decoder.modules() if type(m) is torch.nn.ConvTranspose2d]
    torch.manual_seed(1)
    inputs = [torch.randn(1, c.in_channels, 4, 4) for c in convs]
    expected = [reference_forward(c, x) for c, x in zip(convs, inputs, strict=True)]

    swapped = speed_up_decoders(model)
    assert swapped == len(convs) > 0
    assert speed_up_decoders(model) == 0  # idempotent
    after = model.state_dict()
    assert after.keys() == before.keys()
    assert all(torch.equal(after[k], before[k]) for k in before)
    fast = [m for m in model.mask_decoder.modules() if isinstance(m, PatchExpand)]
    assert len(fast) == len(convs)
    with torch.inference_mode():
        for layer, x, want in zip(fast, inputs, expected, strict=True):
            torch.testing.assert_close(layer(x), want, rtol=1e-5, atol=1e-5)
    # the image encoder is left alone
    assert not any(isinstance(m, PatchExpand) for m in model.image_encoder.modules())
