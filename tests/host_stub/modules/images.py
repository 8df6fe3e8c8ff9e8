"""``modules.images`` (v1.10.1 subset): save_image, read_info_from_image, resize_image, grids.

save_image follows the host: numbered names that never overwrite, a [date] subfolder when
``save_to_dirs``, the infotext in a PNG "parameters" text chunk, before/after saved callbacks.
"""

from __future__ import annotations

import contextlib
import datetime
import math
import os
import re
import string

from modules import script_callbacks, shared
from modules.shared import opts
from PIL import Image, ImageColor, PngImagePlugin

LANCZOS = Image.Resampling.LANCZOS if hasattr(Image, "Resampling") else Image.LANCZOS

invalid_filename_chars = '#<>:"/\\|?*\n\r\t'
invalid_filename_prefix = " "
invalid_filename_postfix = " ."
re_nonletters = re.compile(r"[\s" + string.punctuation + "]+")
re_pattern = re.compile(r"(.*?)(?:\[([^\[\]]+)\]|$)")
re_pattern_arg = re.compile(r"(.*)<([^>]*)>$")
NOTHING_AND_SKIP_PREVIOUS_TEXT = object()


def image_grid(imgs, batch_size=1, rows=None):
    if rows is None:
        if opts.n_rows > 0:
            rows = opts.n_rows
        elif opts.n_rows == 0:
            rows = batch_size
        elif opts.grid_prevent_empty_spots:
            rows = math.floor(math.sqrt(len(imgs)))
            while len(imgs) % rows != 0:
                rows -= 1
        else:
            rows = round(math.sqrt(len(imgs)))
    rows = min(rows, len(imgs))
    cols = math.ceil(len(imgs) / rows)
    params = script_callbacks.ImageGridLoopParams(imgs, cols, rows)
    script_callbacks.image_grid_callback(params)
    w, h = map(max, zip(*(img.size for img in imgs), strict=False))
    grid = Image.new("RGB", size=(params.cols * w, params.rows * h), color=ImageColor.getcolor(opts.grid_background_color, "RGB"))
    for i, img in enumerate(params.imgs):
        grid.paste(img, box=(i % params.cols * w + (w - img.width) // 2, i // params.cols * h + (h - img.height) // 2))
    return grid


def resize_image(resize_mode, im, width, height, upscaler_name=None):
    """0 just resize, 1 crop and resize, 2 resize and fill (LANCZOS; the stand-in has no upscalers)."""

    def resize(im, w, h):
        return im.resize((w, h), resample=LANCZOS)

    if resize_mode not in (1, 2):
        return resize(im, width, height)
    ratio = width / height
    src_ratio = im.width / im.height
    if resize_mode == 1:
        src_w = width if ratio > src_ratio else im.width * height // im.height
        src_h = height if ratio <= src_ratio else im.height * width // im.width
    else:
        src_w = width if ratio < src_ratio else im.width * height // im.height
        src_h = height if ratio >= src_ratio else im.height * width // im.width
    resized = resize(im, src_w, src_h)
    res = Image.new("RGB", (width, height))
    res.paste(resized, box=(width // 2 - src_w // 2, height // 2 - src_h // 2))
    if resize_mode == 2 and ratio < src_ratio:
        fill_height = height // 2 - src_h // 2
        if fill_height > 0:
            res.paste(resized.resize((width, fill_height), box=(0, 0, width, 0)), box=(0, 0))
            res.paste(
                resized.resize((width, fill_height), box=(0, resized.height, width, resized.height)), box=(0, fill_height + src_h)
            )
    elif resize_mode == 2 and ratio > src_ratio:
        fill_width = width // 2 - src_w // 2
        if fill_width > 0:
            res.paste(resized.resize((fill_width, height), box=(0, 0, 0, height)), box=(0, 0))
            res.paste(
                resized.resize((fill_width, height), box=(resized.width, 0, resized.width, height)), box=(fill_width + src_w, 0)
            )
    return res


def sanitize_filename_part(text, replace_spaces=True):
    if text is None:
        return None
    if replace_spaces:
        text = text.replace(" ", "_")
    text = text.translate({ord(x): "_" for x in invalid_filename_chars})
    text = text.lstrip(invalid_filename_prefix)[: shared.cmd_opts.filenames_max_length]
    return text.rstrip(invalid_filename_postfix)


class FilenameGenerator:
    """Expands [pattern] tags (a subset of the host's; unknown tags stay as written)."""

    replacements = {
        "basename": lambda self: self.basename or "img",
        "seed": lambda self: self.seed if self.seed is not None else "",
        "steps": lambda self: self.p and self.p.steps,
        "cfg": lambda self: self.p and self.p.cfg_scale,
        "width": lambda self: self.image.width,
        "height": lambda self: self.image.height,
        "sampler": lambda self: self.p and sanitize_filename_part(self.p.sampler_name, replace_spaces=False),
        "model_hash": lambda self: getattr(self.p, "sd_model_hash", None) or shared.sd_model.sd_model_hash,
        "model_name": lambda self: sanitize_filename_part(
            shared.sd_model.sd_checkpoint_info.name_for_extra, replace_spaces=False
        ),
        "date": lambda self: datetime.datetime.now().strftime("%Y-%m-%d"),
        "datetime": lambda self, *args: datetime.datetime.now().strftime(args[0] if args and args[0] else "%Y%m%d%H%M%S"),
        "job_timestamp": lambda self: getattr(self.p, "job_timestamp", shared.state.job_timestamp),
        "prompt": lambda self: sanitize_filename_part(self.prompt),
        "prompt_spaces": lambda self: sanitize_filename_part(self.prompt, replace_spaces=False),
        "prompt_words": lambda self: self.prompt_words(),
        "batch_number": lambda self: (
            NOTHING_AND_SKIP_PREVIOUS_TEXT if self.p.batch_size == 1 or self.zip else self.p.batch_index + 1
        ),
        "denoising": lambda self: (
            self.p.denoising_strength if self.p and self.p.denoising_strength else NOTHING_AND_SKIP_PREVIOUS_TEXT
        ),
        "none": lambda self: "",
    }

    def __init__(self, p, seed, prompt, image, zip=False, basename=""):
        self.p = p
        self.seed = seed
        self.prompt = prompt
        self.image = image
        self.zip = zip
        self.basename = basename

    def prompt_words(self):
        words = [x for x in re_nonletters.split(self.prompt or "") if x] or ["empty"]
        return sanitize_filename_part(" ".join(words[0 : opts.directories_max_prompt_words]), replace_spaces=False)

    def apply(self, x):
        res = ""
        for m in re_pattern.finditer(x):
            text, pattern = m.groups()
            if pattern is None:
                res += text
                continue
            pattern_args = []
            while (m2 := re_pattern_arg.match(pattern)) is not None:
                pattern, arg = m2.groups()
                pattern_args.insert(0, arg)
            fun = self.replacements.get(pattern.lower())
            if fun is not None:
                try:
                    replacement = fun(self, *pattern_args)
                except Exception:  # noqa: BLE001 - the host reports and keeps the tag
                    replacement = None
                if replacement is NOTHING_AND_SKIP_PREVIOUS_TEXT:
                    continue
                if replacement is not None:
                    res += text + str(replacement)
                    continue
            res += f"{text}[{pattern}]"
        return res


def get_next_sequence_number(path, basename):
    """Next free leading number among files in ``path`` (starting at 0)."""
    result = -1
    if basename != "":
        basename = f"{basename}-"
    prefix_length = len(basename)
    for p in os.listdir(path):
        if p.startswith(basename):
            parts = os.path.splitext(p[prefix_length:])[0].split("-")
            with contextlib.suppress(ValueError):
                result = max(int(parts[0]), result)
    return result + 1


def save_image_with_geninfo(image, geninfo, filename, extension=None, existing_pnginfo=None, pnginfo_section_name="parameters"):
    if extension is None:
        extension = os.path.splitext(filename)[1]
    image_format = Image.registered_extensions()[extension]
    if extension.lower() == ".png":
        existing_pnginfo = existing_pnginfo or {}
        pnginfo_data = None
        if opts.enable_pnginfo:
            existing_pnginfo[pnginfo_section_name] = geninfo
            pnginfo_data = PngImagePlugin.PngInfo()
            for k, v in existing_pnginfo.items():
                pnginfo_data.add_text(k, str(v))
        image.save(filename, format=image_format, pnginfo=pnginfo_data)
    elif extension.lower() in (".jpg", ".jpeg", ".webp"):
        if image.mode == "RGBA":
            image = image.convert("RGB")
        image.save(filename, format=image_format, quality=opts.jpeg_quality)
    else:
        image.save(filename, format=image_format)


def save_image(
    image,
    path,
    basename,
    seed=None,
    prompt=None,
    extension="png",
    info=None,
    short_filename=False,
    no_prompt=False,
    grid=False,
    pnginfo_section_name="parameters",
    p=None,
    existing_info=None,
    forced_filename=None,
    suffix="",
    save_to_dirs=None,
):
    """Save an image; returns (fullfn, txt_fullfn)."""
    namegen = FilenameGenerator(p, seed, prompt, image, basename=basename)
    if save_to_dirs is None:
        save_to_dirs = (grid and opts.grid_save_to_dirs) or (not grid and opts.save_to_dirs and not no_prompt)
    if save_to_dirs:
        dirname = namegen.apply(opts.directories_filename_pattern or "[prompt_words]").lstrip(" ").rstrip("\\ /")
        path = os.path.join(path, dirname)
    os.makedirs(path, exist_ok=True)

    if forced_filename is None:
        if short_filename or seed is None:
            file_decoration = ""
        elif opts.save_to_dirs:
            file_decoration = opts.samples_filename_pattern or "[seed]"
        else:
            file_decoration = opts.samples_filename_pattern or "[seed]-[prompt_spaces]"
        file_decoration = namegen.apply(file_decoration) + suffix
        add_number = opts.save_images_add_number or file_decoration == ""
        if file_decoration != "" and add_number:
            file_decoration = f"-{file_decoration}"
        if add_number:
            basecount = get_next_sequence_number(path, basename)
            fullfn = None
            for i in range(500):
                fn = f"{basecount + i:05}" if basename == "" else f"{basename}-{basecount + i:04}"
                fullfn = os.path.join(path, f"{fn}{file_decoration}.{extension}")
                if not os.path.exists(fullfn):
                    break
        else:
            fullfn = os.path.join(path, f"{file_decoration}.{extension}")
    else:
        fullfn = os.path.join(path, f"{forced_filename}.{extension}")

    pnginfo = existing_info or {}
    if info is not None:
        pnginfo[pnginfo_section_name] = info
    params = script_callbacks.ImageSaveParams(image, p, fullfn, pnginfo)
    script_callbacks.before_image_saved_callback(params)
    image = params.image
    info = params.pnginfo.get(pnginfo_section_name, None)

    fullfn_without_extension, extension = os.path.splitext(params.filename)
    temp_file_path = f"{fullfn_without_extension}.tmp"
    save_image_with_geninfo(
        image, info, temp_file_path, extension, existing_pnginfo=params.pnginfo, pnginfo_section_name=pnginfo_section_name
    )
    target = fullfn_without_extension + extension
    if opts.save_images_replace_action != "Replace":
        n = 0
        while os.path.exists(target):
            n += 1
            target = f"{fullfn_without_extension}-{n}{extension}"
    os.replace(temp_file_path, target)
    fullfn = params.filename
    image.already_saved_as = fullfn

    txt_fullfn = None
    if opts.save_txt and info is not None:
        txt_fullfn = f"{fullfn_without_extension}.txt"
        with open(txt_fullfn, "w", encoding="utf8") as file:
            file.write(f"{info}\n")
    script_callbacks.image_saved_callback(params)
    return fullfn, txt_fullfn


IGNORED_INFO_KEYS = {
    "jfif",
    "jfif_version",
    "jfif_unit",
    "jfif_density",
    "dpi",
    "exif",
    "loop",
    "background",
    "timestamp",
    "duration",
    "progressive",
    "progression",
    "icc_profile",
    "chromaticity",
    "photoshop",
}


def read_info_from_image(image: Image.Image) -> tuple[str | None, dict]:
    """(infotext from the "parameters" chunk or GIF comment, remaining info items)."""
    items = (image.info or {}).copy()
    geninfo = items.pop("parameters", None)
    if "comment" in items:
        comment = items["comment"]
        geninfo = comment.decode("utf8", errors="ignore") if isinstance(comment, bytes) else comment
    for field in IGNORED_INFO_KEYS:
        items.pop(field, None)
    return geninfo, items


def flatten(img, bgcolor):
    """Replace transparency with ``bgcolor``; returns an RGB image."""
    if img.mode == "RGBA":
        background = Image.new("RGBA", img.size, bgcolor)
        background.paste(img, mask=img)
        img = background
    return img.convert("RGB")


def read(fp, **kwargs):
    return Image.open(fp, **kwargs)
