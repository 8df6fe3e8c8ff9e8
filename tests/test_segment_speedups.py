"""The exact fast forms of the mask decoders' layers and methods (segment/speedups.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fixtures.tiny_sam import predictor_for
from torch.nn import functional as F  # noqa: N812

from inpaint_anything.segment.checkpoint import load_sam
from inpaint_anything.segment.session import SegmentSession
from inpaint_anything.segment.speedups import (
    ChannelNorm2d,
    FreshGELU,
    PatchExpand,
    gelu_follows_fresh_output,
    predict_masks,
    reference_forward,
    reference_layer_norm_2d,
    speed_up_decoders,
)

KINDS = ("sam", "sam_hq", "mobile_sam", "sam_hq_tiny")
CL = torch.channels_last
TOL = {"rtol": 1e-5, "atol": 1e-5}


def _layer_norm_2d_classes() -> list[type]:
    from segment_anything.modeling.common import LayerNorm2d as Sam
    from segment_anything_hq.modeling.common import LayerNorm2d as Hq

    classes = [Sam, Hq]
    try:
        from sam2.modeling.sam2_utils import LayerNorm2d as Sam2
    except ImportError:  # pragma: no cover - sam2 is in both test stacks
        return classes
    return [*classes, Sam2]


def _randomised(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random 1-D parameters (norm weights start at 1 and biases at 0, which would hide mistakes)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.ndim == 1:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.2 + (1.0 if name.endswith("weight") else 0.0))
    return module


def assert_rounding_close(got: torch.Tensor, want: torch.Tensor) -> None:
    """Equal up to float32 rounding, relative to the tensor's scale (outputs of deep float sums)."""
    assert got.shape == want.shape and got.dtype == want.dtype
    scale = float(want.abs().max()) or 1.0
    torch.testing.assert_close(got, want, rtol=1e-5, atol=2e-6 * scale)


# --------------------------------------------------------------------------- PatchExpand


@pytest.mark.parametrize(("cin", "cout", "k", "bias"), [(8, 4, 2, True), (6, 3, 2, False), (5, 7, 3, True)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_patch_expand_equals_transposed_convolution(cin, cout, k, bias, channels_last):
    torch.manual_seed(0)
    conv = torch.nn.ConvTranspose2d(cin, cout, kernel_size=k, stride=k, bias=bias)
    fast = PatchExpand.from_conv(conv)
    x = torch.randn(2, cin, 5, 7)
    if channels_last:
        x = x.contiguous(memory_format=CL)
    expected = reference_forward(conv, x)
    got = fast(x)
    assert got.shape == expected.shape == (2, cout, 5 * k, 7 * k)
    torch.testing.assert_close(got, expected, **TOL)
    assert got.is_contiguous(memory_format=CL)  # what the next layers run fastest on
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


# --------------------------------------------------------------------------- LayerNorm2d, GELU


@pytest.mark.parametrize("cls", _layer_norm_2d_classes(), ids=lambda c: c.__module__.split(".")[0])
@pytest.mark.parametrize("layout", ["nchw", "channels_last", "strided"])
def test_channel_norm_equals_the_packages_layer_norm_2d(cls, layout):
    norm = _randomised(cls(6))
    assert ChannelNorm2d.qualifies(norm)
    fast = ChannelNorm2d.from_module(norm)
    assert fast.weight is norm.weight and fast.bias is norm.bias and fast.eps == norm.eps
    x = torch.randn(2, 6, 9, 11, generator=torch.Generator().manual_seed(1)) * 3 + 1
    if layout == "channels_last":
        x = x.contiguous(memory_format=CL)
    elif layout == "strided":
        x = x[:, :, ::2, 1:]
    before = x.clone()
    with torch.inference_mode():
        expected = norm(x)
        got = fast(x)
    torch.testing.assert_close(got, expected, **TOL)
    torch.testing.assert_close(reference_layer_norm_2d(norm, x), expected, rtol=0, atol=0)
    assert torch.equal(x, before)  # the input is never modified
    assert fast.state_dict().keys() == norm.state_dict().keys()


def test_channel_norm_only_replaces_the_packages_layer_norm_2d():
    class LayerNorm2d(torch.nn.Module):  # same name, another module: unknown formula
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.ones(3))
            self.bias = torch.nn.Parameter(torch.zeros(3))
            self.eps = 1e-6

    assert not ChannelNorm2d.qualifies(LayerNorm2d())
    assert not ChannelNorm2d.qualifies(torch.nn.LayerNorm(3))
    assert not ChannelNorm2d.qualifies(torch.nn.GroupNorm(1, 3))


def test_channel_norm_keeps_gradients():
    from segment_anything.modeling.common import LayerNorm2d

    norm = _randomised(LayerNorm2d(4))
    fast = ChannelNorm2d.from_module(norm)
    x = torch.randn(1, 4, 5, 5).contiguous(memory_format=CL).requires_grad_(True)
    (norm(x) * torch.arange(100.0).view(1, 4, 5, 5)).sum().backward()
    expected = (x.grad.clone(), norm.weight.grad.clone())
    x.grad = norm.weight.grad = None
    (fast(x) * torch.arange(100.0).view(1, 4, 5, 5)).sum().backward()
    torch.testing.assert_close(x.grad, expected[0], **TOL)
    torch.testing.assert_close(norm.weight.grad, expected[1], **TOL)


def test_fresh_gelu_is_gelu_and_in_place_only_without_gradients():
    gelu = FreshGELU.from_module(torch.nn.GELU())
    x = torch.randn(3, 4, 5)
    expected = F.gelu(x)
    y = x.clone()
    with torch.inference_mode():
        out = gelu(y)
    assert torch.equal(out, expected)
    assert out.data_ptr() == y.data_ptr()  # overwritten in place
    z = x.clone().requires_grad_(True)
    out = gelu(z)
    assert torch.equal(out, expected) and torch.equal(z.detach(), x)
    out.sum().backward()
    assert z.grad is not None
    tanh = FreshGELU.from_module(torch.nn.GELU(approximate="tanh"))
    with torch.no_grad():
        assert torch.equal(tanh(x.clone()), F.gelu(x, approximate="tanh"))


def test_only_a_gelu_fed_by_a_new_tensor_becomes_in_place():
    gelu = torch.nn.GELU()
    assert gelu_follows_fresh_output(torch.nn.Conv2d(2, 2, 3), gelu)
    assert gelu_follows_fresh_output(PatchExpand.from_conv(torch.nn.ConvTranspose2d(2, 2, 2, 2)), gelu)
    assert not gelu_follows_fresh_output(None, gelu)  # the first layer sees its caller's tensor
    assert not gelu_follows_fresh_output(torch.nn.Identity(), gelu)
    assert not gelu_follows_fresh_output(torch.nn.Conv2d(2, 2, 3), torch.nn.ReLU())


# --------------------------------------------------------------------------- whole decoders


def _decoder_inputs(model, n_prompts: int = 3, with_mask: bool = False, seed: int = 0):
    """Random image embedding (+ HQ early features) and real prompt embeddings for ``model``."""
    gen = torch.Generator().manual_seed(seed)
    pe_module = model.prompt_encoder
    c = pe_module.embed_dim
    g = pe_module.image_embedding_size
    image = torch.randn(1, c, *g, generator=gen)
    size = model.image_encoder.img_size
    coords = torch.rand(n_prompts, 2, 2, generator=gen) * size
    labels = torch.tensor([[1, 0]] * n_prompts, dtype=torch.int)
    masks = torch.randn(n_prompts, 1, *pe_module.mask_input_size, generator=gen) if with_mask else None
    with torch.no_grad():
        sparse, dense = pe_module(points=(coords, labels), boxes=None, masks=masks)
        pe = pe_module.get_dense_pe()
    interm = None
    dec = model.mask_decoder
    if hasattr(dec, "compress_vit_feat"):
        vit_dim = dec.compress_vit_feat[0].in_channels
        interm = [torch.randn(1, *g, vit_dim, generator=gen)]
    return image, pe, sparse, dense, interm


def _forward(dec, image, pe, sparse, dense, interm, multimask):
    if interm is not None:
        return dec(image, pe, sparse, dense, multimask, False, interm)
    if type(dec).__module__.startswith("segment_anything_hq"):
        return dec(image, pe, sparse, dense, multimask, False, None)
    return dec(image, pe, sparse, dense, multimask)


def _counts(decoder) -> tuple[int, int, int]:
    from inpaint_anything.segment.speedups import LAYER_NORM_2D_CLASSES

    mods = list(decoder.modules())
    convs = sum(PatchExpand.qualifies(m) for m in mods)
    norms = sum((type(m).__module__, type(m).__name__) in LAYER_NORM_2D_CLASSES for m in mods)
    gelus = sum(type(m) is torch.nn.GELU for m in mods)
    return convs, norms, gelus


@pytest.mark.parametrize("kind", KINDS)
def test_decoder_swap_keeps_weights_and_is_idempotent(tiny_sam_files, kind):
    model = load_sam(tiny_sam_files[kind]).model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    convs, norms, gelus = _counts(model.mask_decoder)
    encoder_types = [type(m) for m in model.image_encoder.modules()]
    assert convs > 0 and norms > 0 and gelus > 0

    swapped = speed_up_decoders(model)
    assert swapped == convs + norms + gelus + 1  # + predict_masks
    assert speed_up_decoders(model) == 0  # idempotent
    after = model.state_dict()
    assert after.keys() == before.keys()
    assert all(after[k].shape == before[k].shape and torch.equal(after[k], before[k]) for k in before)
    dec_types = [type(m) for m in model.mask_decoder.modules()]
    assert dec_types.count(PatchExpand) == convs
    assert dec_types.count(ChannelNorm2d) == norms
    assert dec_types.count(FreshGELU) == gelus  # every decoder GELU follows a new tensor
    assert [type(m) for m in model.image_encoder.modules()] == encoder_types  # encoder untouched
    # a copy of the weights loads back into the unswapped architecture
    fresh = load_sam(tiny_sam_files[kind]).model
    fresh.load_state_dict(after, strict=True)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("channels_last", [False, True])
def test_swapped_decoder_gives_the_packages_outputs(tiny_sam_files, kind, channels_last):
    original = load_sam(tiny_sam_files[kind]).model
    fast = load_sam(tiny_sam_files[kind]).model
    _randomised(original.mask_decoder, seed=3)
    fast.load_state_dict(original.state_dict())
    speed_up_decoders(fast)
    for with_mask, n in ((False, 3), (True, 1)):
        image, pe, sparse, dense, interm = _decoder_inputs(original, n_prompts=n, with_mask=with_mask)
        fimage, fpe = image, pe
        if channels_last:
            fimage, fpe = image.contiguous(memory_format=CL), pe.contiguous(memory_format=CL)
        with torch.inference_mode():
            for multimask in (True, False):
                want = _forward(original.mask_decoder, image, pe, sparse, dense, interm, multimask)
                got = _forward(fast.mask_decoder, fimage, fpe, sparse, dense, interm, multimask)
                for g, w in zip(got, want, strict=True):
                    assert_rounding_close(g, w)
            if interm is not None:  # HQ: predict_masks with the cached per-image features
                odec, fdec = original.mask_decoder, fast.mask_decoder
                early = interm[0].permute(0, 3, 1, 2)
                hq = odec.embedding_encoder(image) + odec.compress_vit_feat(early)
                fhq = fdec.embedding_encoder(fimage) + fdec.compress_vit_feat(early)
                assert_rounding_close(fhq, hq)
                want = odec.predict_masks(image, pe, sparse, dense, hq_features=hq)
                got = fdec.predict_masks(fimage, fpe, sparse, dense, hq_features=fhq)
                for g, w in zip(got, want, strict=True):
                    assert_rounding_close(g, w)


def test_swapped_decoder_keeps_gradients(tiny_sam_files):
    original = load_sam(tiny_sam_files["sam_hq"]).model
    fast = load_sam(tiny_sam_files["sam_hq"]).model
    speed_up_decoders(fast)
    image, pe, sparse, dense, interm = _decoder_inputs(original, n_prompts=2)
    grads = []
    for model in (original, fast):
        model.zero_grad()
        masks, iou = _forward(model.mask_decoder, image, pe, sparse, dense, interm, True)
        (masks.square().mean() + iou.sum()).backward()
        grads.append({n: p.grad.clone() for n, p in model.mask_decoder.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=1e-4, atol=1e-5)


def test_predict_masks_falls_back_for_other_decoders_and_image_batches(tiny_sam_files):
    model = load_sam(tiny_sam_files["sam"]).model
    speed_up_decoders(model)
    dec = model.mask_decoder
    image, pe, sparse, dense, _ = _decoder_inputs(model, n_prompts=1)
    with torch.inference_mode():
        two = torch.cat([image, image * 0.5])  # the package's semantics: each image, every prompt
        got = predict_masks(dec, two, pe, sparse, dense)
        want = type(dec).predict_masks(dec, two, pe, sparse, dense)
    assert got[0].shape[0] == 2
    for g, w in zip(got, want, strict=True):
        assert torch.equal(g, w)

    class OtherDecoder(type(dec)):  # a subclass may have its own predict_masks: left alone
        pass

    other = OtherDecoder.__new__(OtherDecoder)
    other.__dict__ = {k: v for k, v in dec.__dict__.items() if k != "predict_masks"}
    with torch.inference_mode():
        got = predict_masks(other, image, pe, sparse, dense)
        want = type(dec).predict_masks(dec, image, pe, sparse, dense)
    for g, w in zip(got, want, strict=True):
        assert torch.equal(g, w)


def test_sam2_decoder_swap_gives_the_same_outputs():
    pytest.importorskip("sam2")
    from fixtures.tiny_sam2 import build_tiny_sam2

    original, fast = build_tiny_sam2(seed=1), build_tiny_sam2(seed=1)
    swapped = speed_up_decoders(fast)
    assert swapped > 0 and speed_up_decoders(fast) == 0
    assert fast.state_dict().keys() == original.state_dict().keys()
    assert "predict_masks" not in fast.sam_mask_decoder.__dict__  # SAM 2's own method is kept
    gen = torch.Generator().manual_seed(0)
    c, g = fast.sam_prompt_encoder.embed_dim, fast.sam_prompt_encoder.image_embedding_size
    dec = original.sam_mask_decoder
    image = torch.randn(1, c, *g, generator=gen)
    high = [
        torch.randn(1, dec.conv_s0.out_channels, 4 * g[0], 4 * g[1], generator=gen),
        torch.randn(1, dec.conv_s1.out_channels, 2 * g[0], 2 * g[1], generator=gen),
    ]
    coords = torch.rand(1, 2, 2, generator=gen) * 1024
    with torch.inference_mode():
        sparse, dense = original.sam_prompt_encoder(points=(coords, torch.ones(1, 2, dtype=torch.int)), boxes=None, masks=None)
        pe = original.sam_prompt_encoder.get_dense_pe()
        args = {
            "image_embeddings": image,
            "image_pe": pe,
            "sparse_prompt_embeddings": sparse,
            "dense_prompt_embeddings": dense,
            "multimask_output": True,
            "repeat_image": False,
            "high_res_features": high,
        }
        want = original.sam_mask_decoder(**args)
        got = fast.sam_mask_decoder(**args)
    for g_, w in zip(got, want, strict=True):
        assert_rounding_close(g_, w)


# --------------------------------------------------------------------------- end to end


def _original_predictor(path, image):
    """The package's own SamPredictor on a model without any speed-up."""
    loaded = load_sam(path)
    predictor = predictor_for(loaded)
    predictor.set_image(image)
    return predictor


@pytest.mark.parametrize("kind", ["sam_hq", "sam_hq_tiny", "sam"])
def test_session_masks_equal_the_unmodified_packages(tiny_sam_files, synthetic, kind):
    image = synthetic[0].image
    session = SegmentSession(load_sam(tiny_sam_files[kind]))
    session.set_image(image)
    assert session.embedding.features.is_contiguous(memory_format=CL)
    predictor = _original_predictor(tiny_sam_files[kind], image)
    assert not any(isinstance(m, (PatchExpand, ChannelNorm2d)) for m in predictor.model.modules())
    prompts = [{"points": [(160, 120)]}, {"points": [(40, 100), (200, 60)], "labels": [1, 0]}, {"box": (20, 20, 200, 200)}]
    for prompt in prompts:
        for multimask in (True, False):
            ours = session.predict(**prompt, multimask=multimask)
            pts = np.asarray(prompt.get("points", np.zeros((0, 2))), np.float64)
            labels = np.asarray(prompt.get("labels", [1] * len(pts)))
            masks, scores, low = predictor.predict(
                point_coords=pts if len(pts) else None,
                point_labels=labels if len(pts) else None,
                box=None if "box" not in prompt else np.asarray(prompt["box"], np.float64),
                multimask_output=multimask,
            )
            order = np.argsort(-scores, kind="stable")
            np.testing.assert_allclose(ours.scores, scores[order], rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(ours.low_res_logits, low[order], rtol=1e-4, atol=1e-5)
            # masks: identical except where the logit is within float rounding of the threshold
            full = session.upscale_logits(torch.from_numpy(low[order])[None])[0].numpy()
            differ = ours.masks != masks[order]
            assert not (differ & (np.abs(full) > 1e-4)).any()
            assert differ.mean() < 1e-4


def test_session_caches_the_positional_encoding(tiny_sam_files, synthetic, monkeypatch):
    session = SegmentSession(load_sam(tiny_sam_files["sam_hq"]))
    session.set_image(synthetic[0].image)
    calls = []
    original = session.model.prompt_encoder.get_dense_pe
    monkeypatch.setattr(session.model.prompt_encoder, "get_dense_pe", lambda: calls.append(1) or original())
    first = session.predict(points=[(50, 60)])
    second = session.predict(points=[(50, 60)])
    assert len(calls) == 1
    np.testing.assert_array_equal(first.low_res_logits, second.low_res_logits)


# --------------------------------------------------------------------------- per-image cache


def _count_calls(module: torch.nn.Module) -> list:
    calls: list = []
    module.register_forward_hook(lambda *_: calls.append(1))
    return calls


@pytest.mark.parametrize("kind", KINDS)
def test_image_cache_reuses_the_first_layers_image_projections(tiny_sam_files, kind):
    from inpaint_anything.segment.speedups import image_cache

    original = load_sam(tiny_sam_files[kind]).model
    fast = load_sam(tiny_sam_files[kind]).model
    _randomised(original.mask_decoder, seed=5)
    fast.load_state_dict(original.state_dict())
    speed_up_decoders(fast)
    dec = fast.mask_decoder
    first = dec.transformer.layers[0]
    k_calls = _count_calls(first.cross_attn_token_to_image.k_proj)
    q_calls = _count_calls(first.cross_attn_image_to_token.q_proj)
    image, pe, sparse, dense, interm = _decoder_inputs(original, n_prompts=3)
    assert dense.stride()[2:] == (0, 0)  # the package's "no mask" embedding
    cache: dict = {}
    with torch.inference_mode():
        for n in (3, 1, 2):  # batches of prompts of different sizes share the cache
            want = _forward(original.mask_decoder, image, pe, sparse[:n], dense[:n], interm, True)
            with image_cache(dec, cache):
                got = _forward(dec, image.contiguous(memory_format=CL), pe, sparse[:n], dense[:n], interm, True)
            for g, w in zip(got, want, strict=True):
                assert_rounding_close(g, w)
    assert {"k0", "v0", "q0"} <= cache.keys()
    assert len(k_calls) == len(q_calls) == 1  # computed for the first call only

    # a mask prompt changes the image side: computed afresh every time, cache untouched
    _, _, msparse, mdense, _ = _decoder_inputs(original, n_prompts=1, with_mask=True, seed=2)
    k0 = cache["k0"]
    with torch.inference_mode():
        want = _forward(original.mask_decoder, image, pe, msparse, mdense, interm, False)
        with image_cache(dec, cache):
            got = _forward(dec, image, pe, msparse, mdense, interm, False)
    for g, w in zip(got, want, strict=True):
        assert_rounding_close(g, w)
    assert len(k_calls) == 2 and cache["k0"] is k0

    # outside the block, or for another decoder, nothing is cached
    other: dict = {}
    with torch.inference_mode():
        _forward(dec, image, pe, sparse, dense, interm, True)
        with image_cache(original.mask_decoder, other):
            _forward(dec, image, pe, sparse, dense, interm, True)
    assert len(k_calls) == 4 and other == {}


def test_image_cache_starts_again_when_the_no_mask_embedding_changes(tiny_sam_files):
    from inpaint_anything.segment.speedups import image_cache

    model = load_sam(tiny_sam_files["sam"]).model
    speed_up_decoders(model)
    image, pe, sparse, dense, _ = _decoder_inputs(model, n_prompts=1)
    cache: dict = {}
    with torch.inference_mode(), image_cache(model.mask_decoder, cache):
        model.mask_decoder(image, pe, sparse, dense, True)
        k0 = cache["k0"]
        model.prompt_encoder.no_mask_embed.weight.add_(0.5)  # e.g. other weights loaded in place
        _, dense2 = model.prompt_encoder(points=None, boxes=torch.tensor([[1.0, 2.0, 30.0, 40.0]]), masks=None)
        got = model.mask_decoder(image, pe, sparse, dense2, True)
    fresh = load_sam(tiny_sam_files["sam"]).model
    fresh.load_state_dict(model.state_dict())
    with torch.inference_mode():
        want = fresh.mask_decoder(image, pe, sparse, dense2, True)
    assert cache["k0"] is not k0
    for g, w in zip(got, want, strict=True):
        assert_rounding_close(g, w)


def test_session_caches_image_work_per_image_and_not_for_refinement(tiny_sam_files, synthetic):
    session = SegmentSession(load_sam(tiny_sam_files["sam_hq"]))
    first = session.model.mask_decoder.transformer.layers[0]
    calls = _count_calls(first.cross_attn_token_to_image.k_proj)
    session.set_image(synthetic[0].image)
    a = session.predict(points=[(50, 60)])
    session.predict(points=[(80, 90)], labels=[1])
    session.predict(box=(10, 10, 100, 100))
    assert len(calls) == 1
    session.predict(points=[(55, 65)], refine_from=a)  # mask prompt: not from the cache
    assert len(calls) == 2
    session.set_image(synthetic[1].image)  # another image: its own cache
    session.predict(points=[(50, 60)])
    session.predict(points=[(20, 30)])
    assert len(calls) == 3
