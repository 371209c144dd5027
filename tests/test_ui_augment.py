"""The editor's augmentations: listed with their strengths in the training settings, kept in the recipe, and
previewed as a grid of 16 augmented samples of the chosen dataset (masks over images), redrawn on request."""
from netbuilder.core.data.augment import AUGMENTATIONS
from tests.conftest import EXAMPLES


def test_the_settings_list_augmentations_with_strengths_and_preview_16_samples_with_masks(window, qtbot):
    assert window.open_path(EXAMPLES / "fcn_shapes.json")
    panel = window.training
    editor = panel.augmentations
    assert list(editor.rows) == list(AUGMENTATIONS)
    box, strength, chance = editor.rows["rotate"]
    assert strength.prefix() == "degrees " and strength.value() == 15 and chance.value() == 1
    editor.rows["flip"][0].setChecked(True)
    box.setChecked(True)
    strength.setValue(20)
    assert panel.config().augment == ["flip", "rotate=20"]
    panel.select_dataset("shapes:n=60")
    assert editor.preview()
    qtbot.waitUntil(lambda: editor.image is not None, timeout=60_000)
    assert panel.tabs.currentWidget() is panel.preview and panel.preview.isAncestorOf(editor.page)
    first = editor.image
    assert first.info["caption"] == "16 samples of shapes:n=60, augmented: flip,rotate=20 (on x (with mask))"
    colours = {c for _, c in first.getcolors(1 << 20)}
    assert (int(255 * 0.55 + 230 * 0.45 + 0.5), int(255 * 0.55 + 25 * 0.45 + 0.5), int(255 * 0.55 + 75 * 0.45 + 0.5)) \
        in colours, "circles drawn over their images in their colour"
    editor.redraw_button.click()
    qtbot.waitUntil(lambda: editor.image is not None and editor.image is not first, timeout=60_000)
    assert editor.seed == 1 and editor.image.tobytes() != first.tobytes(), "a new draw"


def test_the_recipe_carries_the_augmentation_both_ways(window, qtbot):
    assert window.open_path(EXAMPLES / "mnist_convnet.json")
    panel = window.training
    panel.apply_recipe({"augment": ["crop", {"name": "erase", "size": 0.3, "p": 0.8}]})
    rows = panel.augmentations.rows
    assert rows["crop"][0].isChecked() and rows["erase"][0].isChecked() and not rows["flip"][0].isChecked()
    assert rows["erase"][1].value() == 0.3 and rows["erase"][2].value() == 0.8
    assert panel.recipe()["augment"] == ["crop", "erase=0.3:p=0.8"]
    rows["colour"][0].setChecked(True)  # a 1-channel dataset: the preview says why not, in words
    panel.select_dataset("digits:size=28")
    assert panel.augmentations.preview()
    qtbot.waitUntil(lambda: "cannot apply" in panel.augmentations.note, timeout=60_000)
    assert panel.augmentations.note == ("colour cannot apply to field 'x': its images have 1 channel; colour "
                                        "(saturation and hue) needs 3 (RGB); use brightness or contrast")
