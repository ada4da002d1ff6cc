"""MXNet RecordIO: ``mxgan pack`` writes a folder as ``.rec`` + ``.idx``; ``--dataset rec`` streams one.

Streaming goes through MXNet's own ``mx.io.ImageRecordIter`` (C++ decoding
threads), with the random crop and mirror of the example's ``ImagenetIter``.
A ``.rec`` is checked against its ``.idx`` before MXNet reads it: MXNet's
reader aborts the process or waits forever on a truncated file.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from mxgan.data.batches import WHOLE, Shard
from mxgan.data.folder import FolderBatches, scan_folder
from mxgan.errors import MxganError
from mxgan.runtime.env import available_cores
from mxgan.runtime.fileio import StagedOutputs, quiet_stderr, raise_write_error
from mxgan.runtime.streams import stream

RECORD_MAGIC = 0xCED7230A  # dmlc RecordIO: each record starts with this uint32, then its length
LENGTH_BITS = (1 << 29) - 1  # the low 29 bits of the second uint32; the top 3 flag split records
IMAGE_HEADER = struct.Struct("<IfQQ")  # mx.recordio.IRHeader: flag (count of extra float labels), label, id, id2
# how the encodings OpenCV decodes begin (mx.io.ImageRecordIter decodes with OpenCV)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"  # then the IHDR chunk: width and height, big-endian, at bytes 16-24
PNG_END = b"IEND\xaeB`\x82"  # a whole PNG ends with its IEND chunk (a cut one makes libpng abort the batch)
IMAGE_SIGNATURES = (b"\xff\xd8\xff", PNG_SIGNATURE, b"BM", b"RIFF", b"II*\x00", b"MM\x00*",
                    *(f"P{n}".encode() for n in range(1, 7)))
CROP_MIN_FRACTION = 0.75  # the example crops 192..256 of its 256 px ImageNet records


def index_path(rec: Path) -> Path:
    return rec.with_suffix(".idx")


@dataclass
class PackReport:
    """What ``mxgan pack`` wrote: records, files skipped, and the two files."""

    records: int
    not_images: int
    unreadable: list[Path]
    rec: Path
    idx: Path

    def describe(self) -> str:
        skipped = [f"{self.not_images} files that are not images"] if self.not_images else []
        skipped += [f"{len(self.unreadable)} unreadable images"] if self.unreadable else []
        return (f"packed {self.records} images into {self.rec} and {self.idx}"
                + (f" (skipped {', '.join(skipped)})" if skipped else ""))


def pack_folder(folder: Path, rec: Path, size: int, channels: int, encoding: str = "png", quality: int = 95,
                progress: bool = True) -> PackReport:
    """Pack every image under ``folder`` (centre square, ``size`` px) into ``rec`` and its ``.idx``.

    Both files are written under temporary names and renamed when complete,
    so an existing pack is only ever replaced by a whole one.
    """
    import mxnet as mx

    scan = scan_folder(folder, "DIR")
    images = FolderBatches(scan, size, batch_size=1, channels=channels, seed=0)
    images.require_readable()  # before any file is written
    idx = index_path(rec)
    # PNG takes a compression level (0-9) where JPEG takes a quality
    level = quality if encoding == "jpg" else 3
    records = 0
    with StagedOutputs() as outputs:  # both files, whole, or neither
        rec_tmp = outputs.reserve(rec)
        writer = mx.recordio.MXIndexedRecordIO(str(outputs.reserve(idx)), str(rec_tmp), "w")
        try:
            for _, image in tqdm(images.decoded(), total=len(scan.files), unit="img", disable=not progress,
                                 desc=f"packing {rec.name}"):
                stored = image[0] if channels == 1 else cv2.cvtColor(image.transpose(1, 2, 0), cv2.COLOR_RGB2BGR)
                header = mx.recordio.IRHeader(0, 0.0, records, 0)
                writer.write_idx(records, mx.recordio.pack_img(header, stored, level, f".{encoding}"))
                records += 1
        except Exception as exc:
            raise_write_error(rec, rec_tmp, exc)  # a full disk or the file-size limit: one line
            raise
        finally:
            writer.close()
        outputs.commit()
    return PackReport(records, scan.not_images, images.unreadable, rec, idx)


def _check_record(stream, rec: Path, number: int, offset: int, size: int, count: int) -> int | None:
    """Record ``number`` at ``offset`` is whole and holds an encoded image (checked by its first bytes); the
    image's shorter side where its header tells it cheaply (PNG), else None."""
    stream.seek(offset)
    head = stream.read(8 + IMAGE_HEADER.size)
    if len(head) < 8:
        raise MxganError(f"{rec} is truncated: record {number} of {count} starts at byte {offset} "
                         f"but the file has {size} bytes; repack it with mxgan pack")
    magic, length = struct.unpack_from("<II", head)
    if magic != RECORD_MAGIC:
        raise MxganError(f"{rec}: no record at byte {offset}, where {index_path(rec)} puts record {number}; "
                         "the .idx belongs to another .rec: repack with mxgan pack")
    length &= LENGTH_BITS
    if offset + 8 + length > size:
        raise MxganError(f"{rec} is truncated: record {number} of {count} needs bytes up to "
                         f"{offset + 8 + length} but the file has {size}; repack it")
    image = b""
    if length >= IMAGE_HEADER.size:
        labels = IMAGE_HEADER.unpack_from(head, 8)[0]
        start = IMAGE_HEADER.size + 4 * labels  # the image follows the header and its extra labels
        stream.seek(offset + 8 + start)
        image = stream.read(min(24, max(0, length - start)))
    if not image.startswith(IMAGE_SIGNATURES):
        raise MxganError(f"{rec}: record {number} of {count} (byte {offset}) holds no encoded image (it begins "
                         f"{image[:8]!r}); repack the pictures with mxgan pack")
    if not image.startswith(PNG_SIGNATURE):
        return None
    stream.seek(offset + 8 + length - len(PNG_END))
    if len(image) < 24 or stream.read(len(PNG_END)) != PNG_END:
        raise MxganError(f"{rec}: record {number} of {count} (byte {offset}) holds a PNG cut short; repack the "
                         "pictures with mxgan pack")
    return min(struct.unpack_from(">II", image, 16))


def check_recordio(rec: Path) -> int:
    """The number of records in ``rec``, after checking that every one its ``.idx`` names is whole and holds an
    encoded image no smaller than the first (the side MXNet's reader crops every image at)."""
    idx = index_path(rec)
    if not rec.is_file():
        raise MxganError(f"--data-dir {rec}: no such file; give the .rec written by mxgan pack")
    if not idx.is_file():
        raise MxganError(f"--data-dir {rec}: its index {idx} is missing; mxgan pack writes both "
                         "(im2rec: pass --pack-label or re-run it to make the .idx)")
    try:
        offsets = [int(line.split("\t")[1]) for line in idx.read_text().splitlines() if line.strip()]
    except (IndexError, ValueError, UnicodeDecodeError) as exc:
        raise MxganError(f"{idx} is not a RecordIO index (lines of 'key<TAB>offset'); repack with mxgan pack") \
            from exc
    if not offsets:
        raise MxganError(f"{idx} lists no records; repack the folder with mxgan pack")
    size = rec.stat().st_size
    with rec.open("rb") as stream:
        sides = [_check_record(stream, rec, number, offset, size, len(offsets))
                 for number, offset in enumerate(offsets)]
    smaller = [(number, side) for number, side in enumerate(sides) if side and sides[0] and side < sides[0]]
    if smaller:
        number, side = smaller[0]
        raise MxganError(f"{rec}: record {number} is {side} px on its shorter side, smaller than the first record's "
                         f"{sides[0]}; the images of a .rec must share one size: repack them with mxgan pack")
    return len(offsets)


def stored_side(rec: Path) -> int:
    """The side of the (square) images in ``rec``, from its first record."""
    import mxnet as mx

    reader = mx.recordio.MXIndexedRecordIO(str(index_path(rec)), str(rec), "r")
    try:
        with quiet_stderr():  # libjpeg's own complaint about a damaged first record: the error below says it
            _, image = mx.recordio.unpack_img(reader.read_idx(reader.keys[0]), cv2.IMREAD_UNCHANGED)
    finally:
        reader.close()
    if image is None:
        raise MxganError(f"{rec}: its first record does not decode as an image; repack the pictures with mxgan pack")
    return min(image.shape[:2])


def _reading_error(rec: Path, error: Exception) -> MxganError:
    """MXNet's many-line error about a record as one line (a record that does not decode, or a smaller image)."""
    lines = [line for line in str(error).splitlines() if "Check failed" in line or "Error" in line]
    reason = (lines[-1] if lines else str(error)).rsplit(": ", 1)[-1].strip()
    return MxganError(f"{rec}: MXNet could not read a record ({reason}); the images must decode and share one "
                      "size: repack the pictures with mxgan pack")


class RecordBatches:
    """Batches of a ``.rec`` through ``mx.io.ImageRecordIter``, as the example's ``ImagenetIter``.

    ``rand_crop``: a random square of 75-100% of the stored side (the
    example's 192-256 of 256), resized to ``image_size``; otherwise the whole
    image, resized. ``rand_mirror``: flip half of them left-right. Each epoch
    is a new iterator seeded by ``(seed, epoch)``, so a resumed run sees the
    same batches. With a ``shard``, each worker reads its own part.
    """

    def __init__(self, rec: Path, image_size: int, batch_size: int, channels: int, seed: int,
                 rand_crop: bool = True, rand_mirror: bool = True, shard: Shard = WHOLE):
        self.rec, self.image_size, self.batch_size, self.channels = rec, image_size, batch_size, channels
        self.seed, self.rand_crop, self.rand_mirror, self.shard = seed, rand_crop, rand_mirror, shard
        self.records = check_recordio(rec)
        self.side = stored_side(rec)
        # MXNet gives each of the parts ceil(records / parts) records, and the last part the rest
        smallest_part = self.records - (shard.parts - 1) * -(-self.records // shard.parts)
        if batch_size > smallest_part:
            raise MxganError(f"--batch-size {batch_size} is larger than {rec}'s {smallest_part} images per worker; "
                             "use a smaller --batch-size")
        self.batches_per_epoch = smallest_part // batch_size
        self.image_count = self.records

    def _iterator(self, epoch: int):
        import mxnet as mx

        smallest = max(1, round(CROP_MIN_FRACTION * self.side)) if self.rand_crop else self.side
        epoch_seed = int(stream(self.seed, "records", epoch).integers(0, 2**31 - 1))
        return mx.io.ImageRecordIter(
            path_imgrec=str(self.rec), path_imgidx=str(index_path(self.rec)),
            data_shape=(self.channels, self.image_size, self.image_size), batch_size=self.batch_size,
            shuffle=True, seed=epoch_seed, seed_aug=epoch_seed, rand_crop=self.rand_crop,
            rand_mirror=self.rand_mirror, min_crop_size=smallest, max_crop_size=self.side,
            num_parts=self.shard.parts, part_index=self.shard.index, round_batch=False,
            preprocess_threads=available_cores(), verbose=False,
        )

    def epoch(self, epoch: int, start: int = 0) -> Iterator[np.ndarray]:
        """Batches ``start..`` of ``epoch``, float32 (B, C, S, S) in [-1, 1] (the example's scaling)."""
        import mxnet as mx

        iterator = self._iterator(epoch)
        try:
            for number, batch in enumerate(iterator):
                if number >= self.batches_per_epoch:
                    break
                if number >= start:
                    yield batch.data[0].asnumpy() * (2.0 / 255.0) - 1.0
        except mx.base.MXNetError as exc:  # a record that passed the byte checks but not OpenCV's decoder
            raise _reading_error(self.rec, exc) from exc
