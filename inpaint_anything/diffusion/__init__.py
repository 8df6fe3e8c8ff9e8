"""Diffusers inpainting pipelines, loaded offline.

- :mod:`.detect` tells what a model path is (diffusers folder or single-file checkpoint, SD1/SD2/SDXL,
  inpainting or not) without loading weights.
- :mod:`.tokenizer` derives the CLIP tokenizer files from the BPE table open_clip ships.
- :mod:`.loader` loads a pipeline (``load_inpaint_pipeline``) and caches loaded ones (``PipelineCache``).
- :mod:`.schedulers` maps WebUI sampler names to diffusers schedulers.
- ``configs/`` holds the small diffusers configs that single-file checkpoints need.
"""
