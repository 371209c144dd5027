"""Driving the canvas as a person does: mouse gestures on the view's viewport, at scene positions."""
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest


def to_view(window, scene_pos: QPointF) -> QPoint:
    return window.view.mapFromScene(scene_pos)


def drag(window, start: QPointF, end: QPointF, steps: int = 6) -> None:
    """Press at `start`, move in steps, release at `end` (scene coordinates)."""
    viewport = window.view.viewport()
    a, b = to_view(window, start), to_view(window, end)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    for i in range(1, steps + 1):
        QTest.mouseMove(viewport, a + (b - a) * i / steps)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)


def click(window, scene_pos: QPointF) -> None:
    QTest.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     to_view(window, scene_pos))


def port_pos(window, node_id: str, is_output: bool, name: str) -> QPointF:
    return window.scene.blocks[node_id].port(is_output, name).scenePos()
