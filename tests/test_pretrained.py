"""Pretrained ImageNet weights on demand, tested against a local HTTP server on 127.0.0.1 with files named as
torchvision names them (<name>-<first 8 hex digits of their SHA-256>.pth): the weights placed on ResNet-18 give
the outputs of a torchvision-equivalent ResNet-18 with the same state_dict; a file that does not match its
checksum, a download cut short and resumed, the message offline; every tensor of each network's file placed;
fine-tuning: a new head, a frozen body, the images normalized as the weights expect."""
import dataclasses
import hashlib
import http.server
import io
import threading

import numpy as np
import pytest
import torch
from PIL import Image

import tests.torchvision_like as tv
from netbuilder.cli.main import main
from netbuilder.core.base.files import shipped
from netbuilder.core.build.compile import compile_graph
from netbuilder.core.build.weights import read_state, split_normalization
from netbuilder.core.data.download import DownloadError
from netbuilder.core.exchange.fine_tune import write_fine_tune
from netbuilder.core.exchange.pretrained import PRETRAINED, PretrainedError, map_weights, pretrained
from netbuilder.core.model.graph import Graph
from netbuilder.core.training.experiment import prepare_training, trained_state
from netbuilder.core.training.trainer import TrainConfig, Trainer


class Server:
    """Serves files by name, honouring Range requests; `cut` sends only the first bytes of a file's next full
    answer, then closes the connection (as a dropped connection does)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.cut: dict[str, int] = {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                name = self.path.rsplit("/", 1)[-1]
                wanted = self.headers.get("Range")
                server.requests.append((name, wanted))
                data = server.files.get(name)
                if data is None:
                    self.send_error(404)
                    return
                start = int(wanted.split("=")[1].split("-")[0]) if wanted else 0
                self.send_response(206 if wanted else 200)
                if wanted:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                if not wanted and name in server.cut:
                    body = body[:server.cut.pop(name)]
                self.wfile.write(body)

        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/models/"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


def as_published(name: str, module: torch.nn.Module) -> tuple[bytes, str]:
    """A state_dict saved as torch.save does, and the name torchvision would give it."""
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    data = buffer.getvalue()
    return data, f"{name}-{hashlib.sha256(data).hexdigest()[:8]}.pth"


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    model = tv.ResNet18().eval()
    with torch.no_grad():  # running statistics that are not the defaults, as trained ones are not
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    data, file = as_published("resnet18", model)
    return model, data, dataclasses.replace(PRETRAINED["resnet18"], file=file)


def test_weights_on_resnet18_give_torchvision_s_outputs(server, resnet):
    model, data, spec = resnet
    server.files[spec.file] = data
    graph, state = pretrained(spec)
    weights, normalization = split_normalization(state)
    compiled = compile_graph(graph, normalization=normalization).eval()
    compiled.load_state_dict(state)
    images = torch.rand(2, 3, 224, 224)  # RGB values in 0..1, as an image folder gives them
    mean, std = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    with torch.no_grad():
        expected = model((images - mean) / std)  # torchvision's weights expect ImageNet-normalized images
        got = compiled(images)
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-4 * float(expected.abs().max()))
    assert [request for request in server.requests] == [(spec.file, None)]
    again, _ = pretrained(spec)  # the second time from the cache: no request
    assert len(server.requests) == 1 and again.find("fc").params["out_features"] == 1000


@pytest.mark.parametrize("name, make", [("alexnet", tv.alexnet), ("vgg16", tv.vgg16), ("resnet18", tv.ResNet18),
                                        ("googlenet", tv.googlenet)])
def test_every_tensor_of_each_network_s_file_has_its_place(name, make):
    spec = PRETRAINED[name]
    with torch.device("meta"):
        state = make().state_dict()
    graph = Graph.load(shipped("examples") / spec.example)
    placed = map_weights(spec, state, graph)
    aux = [k for k in state if k.startswith(("aux1.", "aux2."))]
    assert len(placed) == len(state) - len(aux) + 2  # + the normalization the weights expect
    assert (name == "googlenet") == bool(aux)
    broken = {k: v for k, v in state.items() if k not in ("fc.weight", "classifier.6.weight")}
    broken[next(iter(broken))] = torch.zeros(3, device="meta")
    with pytest.raises(PretrainedError, match="does not fit"):
        map_weights(spec, broken, graph)


def test_a_file_that_does_not_match_its_checksum_is_deleted(server, resnet, tmp_path):
    _, data, spec = resnet
    server.files[spec.file] = data[:-10] + b"0123456789"
    with pytest.raises(DownloadError) as caught:
        pretrained(spec)
    assert "does not match its checksum" in str(caught.value)
    assert not any((tmp_path / "cache").glob("resnet18*.pth*"))


def test_a_download_cut_short_resumes_where_it_stopped(server, resnet, tmp_path):
    _, data, spec = resnet
    server.files[spec.file] = data
    server.cut[spec.file] = 1_000_000
    graph, state = pretrained(spec)
    assert server.requests == [(spec.file, None), (spec.file, "bytes=1000000-")]
    assert (tmp_path / "cache" / spec.file).read_bytes() == data


def test_offline_one_message_says_which_file_to_put_where(server, resnet, tmp_path, monkeypatch, capsys):
    _, _, spec = resnet
    server.close()  # nothing listens there any more
    with pytest.raises(DownloadError) as caught:
        pretrained(spec)
    message = str(caught.value)
    assert message.startswith("cannot download ResNet-18's ImageNet weights (")
    assert message.endswith(f"offline, download https://download.pytorch.org/models/{spec.file} and put {spec.file} "
                            f"in {tmp_path / 'cache'}")
    out = tmp_path / "resnet.json"
    assert main(["pretrained", "resnet18", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "offline, download https://download.pytorch.org/models/resnet18-f37072fd.pth and put" in err
    assert not out.exists()


def test_the_command_refuses_to_overwrite(tmp_path, capsys):
    (tmp_path / "g.json").write_text("mine")
    assert main(["pretrained", "resnet18", "-o", str(tmp_path / "g.json")]) == 1
    assert "is there already; give --force to replace it" in capsys.readouterr().err
    assert (tmp_path / "g.json").read_text() == "mine"


def image_folder(root, classes=("cats", "dogs"), each=6):
    rng = np.random.default_rng(0)
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(each):
            pixels = (rng.random((40, 48, 3)) * 100 + 120 * k).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def test_fine_tuning_resizes_the_head_freezes_the_body_and_keeps_imagenet_s_normalization(server, resnet, tmp_path):
    _, data, spec = resnet
    server.files[spec.file] = data
    folder = image_folder(tmp_path / "photos")
    path = write_fine_tune(spec, folder, tmp_path / "tuned.json", epochs=1)
    graph = Graph.load(path)
    assert graph.find("fc").params["out_features"] == 2 and not graph.find("fc").frozen
    assert graph.find("layer4_1_conv2").frozen and graph.find("bn1").frozen
    assert graph.recipe["data"] == f"images:{folder.resolve()}"
    state = read_state(tmp_path / "tuned.pt")
    assert "fc.weight" not in state and torch.equal(state["normalize_x_std"].flatten(),
                                                    torch.tensor([0.229, 0.224, 0.225]))
    setup = prepare_training(graph, graph.recipe["data"], weights=tmp_path / "tuned.pt", val_fraction=0.0,
                             test_fraction=0.25)
    assert "normalized with the mean and std the starting weights expect (x)" in setup.splits.notes
    body = setup.model.state_dict()["layer4_1_conv2.weight"].clone()
    trainer = Trainer(setup.model, setup.splits, TrainConfig(epochs=1, batch_size=8), objective=setup.objective)
    trainer.fit()
    trained = trained_state(trainer)
    assert torch.equal(trained["layer4_1_conv2.weight"], body)  # the body stays as it was
    assert torch.equal(trained["normalize_x_mean"].flatten(), torch.tensor([0.485, 0.456, 0.406]))


def test_a_folder_without_classes_is_refused_before_any_download(server, resnet, tmp_path):
    _, _, spec = resnet
    (tmp_path / "flat").mkdir()
    with pytest.raises(PretrainedError, match="at least two class sub-folders"):
        write_fine_tune(spec, tmp_path / "flat", tmp_path / "x.json")
    assert server.requests == []
