"""Dataset readers on small files written here, the bundled datasets, and fitting data to a graph."""
import gzip
import struct

import numpy as np
import pytest
import torch

from netbuilder.core.data import DataError, load_dataset
from netbuilder.core.data.augment.transforms import Augmentation
from netbuilder.core.data.prepare import prepare


def write_idx(path, array: np.ndarray, compress: bool):
    data = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">i", d) for d in array.shape) + array.tobytes()
    if compress:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def mnist_folder(tmp_path, compress, n_train=12, n_test=5):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), compress)
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", (np.arange(n) % 10).astype(np.uint8), compress)
    return tmp_path


@pytest.mark.parametrize("compress", [True, False], ids=["gz", "raw"])
def test_mnist_idx_files(tmp_path, compress):
    source = load_dataset(f"mnist:{mnist_folder(tmp_path, compress)}")
    assert source.data.x.shape == (12, 1, 28, 28) and source.test.x.shape == (5, 1, 28, 28)
    assert source.data.y.tolist() == [i % 10 for i in range(12)]
    assert 0 <= float(source.data.x.min()) and float(source.data.x.max()) <= 1
    raw = (tmp_path / "train-images-idx3-ubyte.gz") if compress else (tmp_path / "train-images-idx3-ubyte")
    first = np.frombuffer(gzip.decompress(raw.read_bytes()) if compress else raw.read_bytes(), np.uint8, 28 * 28, 16)
    assert torch.equal(source.data.x[0, 0], torch.from_numpy(first.reshape(28, 28).astype(np.float32) / 255))


def test_fashion_mnist_has_its_class_names(tmp_path):
    source = load_dataset(f"fashion-mnist:{mnist_folder(tmp_path, True)}")
    assert source.data.classes[0] == "T-shirt/top" and source.data.classes[9] == "Ankle boot"


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_bytes(p.read_bytes()[:-10]), "truncated or corrupt"),
    (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + p.read_bytes()), "is not an IDX file (bad magic number)"),
    (lambda p: p.unlink(), "no train-images-idx3-ubyte or train-images-idx3-ubyte.gz"),
])
def test_damaged_idx_files_are_named(tmp_path, damage, message):
    mnist_folder(tmp_path, compress=False)
    damage(tmp_path / "train-images-idx3-ubyte")
    with pytest.raises(DataError) as caught:
        load_dataset(f"mnist:{tmp_path}")
    assert message in str(caught.value)


def test_labels_that_do_not_match_the_images(tmp_path):
    mnist_folder(tmp_path, compress=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(7, np.uint8), compress=False)
    with pytest.raises(DataError, match="12 train images but 7 labels"):
        load_dataset(f"mnist:{tmp_path}")


def test_cifar10_binary(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for name, n in (("data_batch_1.bin", 6), ("data_batch_2.bin", 4), ("test_batch.bin", 3)):
        records = np.concatenate([np.arange(n, dtype=np.uint8)[:, None] % 10,
                                  rng.integers(0, 256, (n, 3072), dtype=np.uint8)], axis=1)
        (folder / name).write_bytes(records.tobytes())
    source = load_dataset(f"cifar10:{tmp_path}")
    assert source.data.x.shape == (10, 3, 32, 32) and source.test.x.shape == (3, 3, 32, 32)
    assert source.data.classes[3] == "cat"
    record = np.frombuffer((folder / "data_batch_1.bin").read_bytes(), np.uint8)[:3073]
    assert source.data.y[0] == record[0]
    assert torch.equal(source.data.x[0, 1], torch.from_numpy(record[1 + 1024:1 + 2048].reshape(32, 32) / 255.0).float())
    (folder / "test_batch.bin").write_bytes(b"\x00" * 3000)
    with pytest.raises(DataError, match="3,000 bytes is not a whole number of 3073-byte records"):
        load_dataset(f"cifar10:{tmp_path}")


def test_csv_classes_and_regression(tmp_path):
    path = tmp_path / "flowers.csv"
    path.write_text("length,width,kind\n1.0,0.5,rose\n2.0,0.7,tulip\n1.5,0.6,rose\n\n")
    data = load_dataset(f"csv:{path}:label=kind").data
    assert torch.equal(data.x, torch.tensor([[1.0, 0.5], [2.0, 0.7], [1.5, 0.6]]))
    assert data.classes == ["rose", "tulip"] and data.y.tolist() == [0, 1, 0]
    path.write_text("a,b,y\n1,2,0.5\n3,4,1.25\n")
    data = load_dataset(f"csv:{path}:label=y").data
    assert data.classes is None and data.y.tolist() == [[0.5], [1.25]]
    path.write_text("a,b,y\n1,2,10\n3,4,2\n")
    assert load_dataset(f"csv:{path}:label=y").data.classes == ["2", "10"]


@pytest.mark.parametrize("content, spec_label, message", [
    ("a,b\n1,2\n", "c", "no column named 'c' (columns: a, b)"),
    ("a,b\n1,x\n", "a", "line 2, column 'b': 'x' is not a number"),
    ("a,b\n1,2,3\n", "a", "line 2: 3 values, the header has 2 columns"),
    ("a,b\n1,nan\n", "a", "line 2, column 'b': 'nan' is not a finite number"),
    ("a\n1\n", "a", "needs at least one feature column besides 'a'"),
])
def test_bad_csv_files_name_the_line_and_column(tmp_path, content, spec_label, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataError) as caught:
        load_dataset(f"csv:{path}:label={spec_label}")
    assert message in str(caught.value)


def test_image_folder_is_resized_to_the_graph_input(tmp_path):
    from PIL import Image

    for name, colour in (("cats", (255, 0, 0)), ("dogs", (0, 0, 255))):
        (tmp_path / name).mkdir()
        for i in range(3):
            Image.new("RGB", (40 + i, 30), colour).save(tmp_path / name / f"{i}.png")
    (tmp_path / "dogs" / "notes.txt").write_text("not an image")
    data = load_dataset(f"images:{tmp_path}", input_shape=(3, 16, 16)).data
    assert data.x.shape == (6, 3, 16, 16) and data.classes == ["cats", "dogs"] and data.y.tolist() == [0] * 3 + [1] * 3
    assert data.x[0, 0].mean() == pytest.approx(1.0) and data.x[0, 2].mean() == pytest.approx(0.0)
    assert data.x[5, 2].mean() == pytest.approx(1.0)
    (tmp_path / "dogs" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match="broken.png: not a readable image"):
        load_dataset(f"images:{tmp_path}")


def test_bundled_datasets_need_no_download():
    mnist = load_dataset("mnist-5k").data
    assert mnist.x.shape == (5000, 1, 28, 28) and torch.bincount(mnist.y).tolist() == [500] * 10
    digits = load_dataset("digits").data
    assert digits.x.shape == (1797, 1, 8, 8) and digits.num_classes == 10


@pytest.mark.parametrize("name", ["xor", "circles", "moons", "spirals"])
def test_synthetic_datasets_are_seeded_and_balanced(name):
    a = load_dataset(f"{name}:n=400:noise=0.05:seed=3").data
    b = load_dataset(f"{name}:n=400:noise=0.05:seed=3").data
    c = load_dataset(f"{name}:n=400:noise=0.05:seed=4").data
    assert torch.equal(a.x, b.x) and not torch.equal(a.x, c.x)
    assert a.x.shape == (400, 2) and 150 < int(a.y.sum()) < 250


def test_temperature_is_a_regression():
    data = load_dataset("temperature").data
    assert data.x.shape == (1000, 3) and data.y.shape == (1000, 1) and data.classes is None


@pytest.mark.parametrize("spec, message", [
    ("nope", "unknown dataset 'nope'"),
    ("xor:n=abc", "n must be a int"),
    ("xor:colour=red", "unknown option 'colour=red'"),
    ("csv:file.csv", "write csv:FILE:label=COLUMN"),
    ("mnist:/does/not/exist", "/does/not/exist is not a folder"),
])
def test_bad_specs_say_what_is_wrong(spec, message):
    with pytest.raises(DataError, match=message):
        load_dataset(spec)


def test_the_mnist_5k_split_is_shuffled_and_normalized_on_the_training_part():
    splits = prepare(load_dataset("mnist-5k"), (1, 28, 28), (10,), val_fraction=0.1, test_fraction=0.2, seed=0)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (3500, 500, 1000)
    assert all(count > 70 for count in torch.bincount(splits.test.y).tolist()), "every class is in the test split"
    assert abs(float(splits.train.x.mean())) < 1e-4 and abs(float(splits.train.x.std()) - 1) < 1e-3
    assert abs(float(splits.test.x.mean())) < 0.1
    assert splits.mean and splits.std and "normalized" in splits.notes[-1]


@pytest.mark.parametrize("input_shape, note", [
    ((784,), "samples reshaped from 1x28x28 to 784"),
    ((1, 32, 32), "images zero-padded from 28x28 to 32x32"),
    ((1, 14, 14), "images resized from 28x28 to 14x14"),
])
def test_samples_are_fitted_to_the_graph_input_when_unambiguous(input_shape, note):
    splits = prepare(load_dataset("mnist-5k"), input_shape, (10,))
    assert splits.train.sample_shape == input_shape and splits.notes[0] == note


@pytest.mark.parametrize("input_shape, output_shape, message", [
    ((3, 32, 32), (10,), "graph input is 3x32x32, dataset mnist-5k gives 1x28x28"),
    ((1, 28, 28), (7,), "graph output is 7, dataset mnist-5k has 10 classes: the output must be 10 values per sample, "
                         "one score per class"),
])
def test_a_dataset_that_does_not_fit_the_graph_is_refused_in_words(input_shape, output_shape, message):
    with pytest.raises(DataError) as caught:
        prepare(load_dataset("mnist-5k"), input_shape, output_shape)
    assert str(caught.value) == message


def test_augmentation_keeps_shapes_and_changes_images():
    torch.manual_seed(0)
    x = torch.arange(200 * 3 * 8 * 8, dtype=torch.float32).reshape(200, 3, 8, 8)
    flipped = Augmentation(["flip"])(x)
    mirrored = [torch.equal(f, o.flip(-1)) for f, o in zip(flipped, x)]
    assert all(m or torch.equal(f, o) for m, f, o in zip(mirrored, flipped, x)), "each image mirrored or kept"
    assert 60 < sum(mirrored) < 140, "about half the images are mirrored left-right"
    cropped = Augmentation(["crop"])(x)
    assert cropped.shape == x.shape and not torch.equal(cropped, x)
    noisy = Augmentation(["noise"])(x)
    assert 0.05 < float((noisy - x).std()) < 0.2
