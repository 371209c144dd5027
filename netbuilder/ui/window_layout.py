"""The window's layout: the docks and their first sizes, the window's size on its screen, the start page, a panel
enlarged to take the whole window, and the layout remembered between sessions (QSettings). A part of MainWindow
(a mixin), kept in its own module to stay readable.

The window never grows past its screen whatever a panel holds: the main layout sets no minimum size on the window
(a panel's content scrolls or scales instead), and a first window takes the screen's available area (maximised on a
laptop's screen), never more.
"""
from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import QDockWidget, QLabel, QLayout, QMainWindow, QTabWidget, QToolButton, QWidget

from . import style
from .start_page import StartPage

DEFAULT_SIZE = (1360, 900)  # on a screen that cannot tell (offscreen)
PREFERRED_SIZE = (1600, 1000)  # on a larger screen; a smaller one is filled (maximised)
LAYOUT_VERSION = 4  # saved dock layouts of another version are not restored (the docks changed)


def enlarge_button(tip: str = "Enlarge this panel to the whole window (Ctrl+Shift+M); again to restore") -> QToolButton:
    """The small button a panel shows in its corner to take the whole window (the window connects it)."""
    button = QToolButton()
    button.setObjectName("enlargeButton")
    button.setIcon(style.icon("enlarge"))
    button.setToolTip(tip)
    button.setCheckable(True)
    button.setAutoRaise(True)
    return button


class WindowLayout:
    """Needs: stack, toolbar, summary_label, the docks (made with _dock), _update_title."""

    def _init_layout(self) -> None:
        self._dock_state = None  # the docks as they were before the start page hid them
        self._docks_tabbed = False  # docks join their tabs when the window first shows
        self._layout_restored = False  # the panels' sizes came from the last session
        self.enlarged: QDockWidget | None = None  # a panel taking the whole window
        self._before_enlarging = None
        self.setTabPosition(Qt.DockWidgetArea.AllDockWidgetAreas, QTabWidget.TabPosition.North)  # before tabbing
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks
                            | QMainWindow.DockOption.AllowNestedDocks | QMainWindow.DockOption.GroupedDragging)
        # the right column (inspector, training, Inside) takes the full height; the bottom panel sits under the canvas
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        # a panel's content never sets the window's minimum size: it scrolls or scales, and the window stays on screen
        self.layout().setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        self._restore_shortcut = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        self._restore_shortcut.setEnabled(False)
        self._restore_shortcut.activated.connect(self.restore_panels)

    def _dock(self, title: str, widget, area, titled: bool = True) -> QDockWidget:
        dock = QDockWidget(title, self)
        if not titled:
            dock.setTitleBarWidget(QWidget())
        dock.setObjectName(title)
        dock.setWidget(widget)
        features = QDockWidget.DockWidgetFeature
        dock.setFeatures(features.DockWidgetMovable | features.DockWidgetClosable | features.DockWidgetFloatable)
        if area is not None:  # else it is tabbed with another
            self.addDockWidget(area, dock)
        return dock

    @staticmethod
    def _waiting(text: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName("help")
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setWordWrap(True)
        return label

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._docks_tabbed:
            # Tabbed once shown: Qt 6 leaves a stray tab bar over the window when two dock areas are tabbed
            # before it is first laid out.
            self._docks_tabbed = True
            self.tabifyDockWidget(self.inspector_dock, self.training_dock)
            self.tabifyDockWidget(self.training_dock, self.probe_dock)
            self.tabifyDockWidget(self.probe_dock, self.runs_dock)
            self.tabifyDockWidget(self.analysis_dock, self.curves_dock)
            self.inspector_dock.raise_()
            self.analysis_dock.raise_()
            self._layout_restored = self._restore_docks()
            if not self._layout_restored:
                self._size_docks()

    # ----- the window's size on its screen

    def _fit_screen(self) -> None:
        """The window as it was last time; else, on a large screen, 1600x1000 in its middle; on a smaller one (a
        laptop's), all of it (maximised): never larger than the screen's available area (title bar included)."""
        saved = QSettings().value("window/geometry")
        if saved is not None and self.restoreGeometry(saved):
            return
        screen = QGuiApplication.primaryScreen()
        if screen is None or QGuiApplication.platformName() in ("offscreen", "minimal"):
            self.resize(*DEFAULT_SIZE)  # no real screen to fit (tests, screenshots)
            return
        room = screen.availableGeometry()
        width, height = min(PREFERRED_SIZE[0], room.width()), min(PREFERRED_SIZE[1], room.height())
        self.resize(width, height)
        self.move(room.center().x() - width // 2, room.center().y() - height // 2)
        if width < PREFERRED_SIZE[0] or height < PREFERRED_SIZE[1]:
            self.setWindowState(self.windowState() | Qt.WindowState.WindowMaximized)

    def _size_docks(self) -> None:
        """Narrow side columns (the right one as wide as the training settings need, up to a third of the width),
        the canvas most of the room, the bottom panel a fifth of the height."""
        right = 360 if self.training is None else max(360, self.training.settings_width())
        right = min(right, int(0.32 * self.width()))
        self.resizeDocks([self.palette_dock, self.inspector_dock], [200, right], Qt.Orientation.Horizontal)
        self.resizeDocks([self.analysis_dock], [max(140, int(self.height() * 0.21))], Qt.Orientation.Vertical)

    # ----- remembered between sessions

    def _restore_docks(self) -> bool:
        state = QSettings().value("window/state")
        return state is not None and self.restoreState(state, LAYOUT_VERSION)

    def save_layout(self) -> None:
        """Keep the window's place, size, maximised state and dock sizes for the next session."""
        if self.start_page is not None and self.stack.currentWidget() is self.start_page and self._dock_state:
            state = self._dock_state
        elif self.enlarged is not None:
            state = self._before_enlarging
        else:
            state = self.saveState(LAYOUT_VERSION)
        settings = QSettings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", state)

    # ----- a panel taking the whole window

    def enlarge_panel(self, dock: QDockWidget | None = None) -> None:
        """Give one panel the whole window (the canvas and the other panels put away); again: as before."""
        if self.enlarged is not None:
            self.restore_panels()
            return
        dock = dock or self._panel_in_focus()
        self.show_canvas()
        self._before_enlarging = self.saveState(LAYOUT_VERSION)
        self.enlarged = dock
        for other in self.findChildren(QDockWidget):
            if other is not dock:
                other.hide()
        dock.setFloating(False)
        dock.show()
        dock.raise_()
        self.stack.hide()
        self._restore_shortcut.setEnabled(True)
        self._enlarged_changed()

    def restore_panels(self) -> None:
        if self.enlarged is None:
            return
        self.enlarged = None
        self.stack.show()
        self.restoreState(self._before_enlarging, LAYOUT_VERSION)
        self._before_enlarging = None
        self._restore_shortcut.setEnabled(False)
        self._enlarged_changed()

    def _panel_in_focus(self) -> QDockWidget:
        """The panel the keyboard is in, if it shows pictures; else the bottom one (curves and results)."""
        focus = QGuiApplication.focusObject()
        for dock in (self.probe_dock, self.curves_dock, self.analysis_dock):
            if isinstance(focus, QWidget) and dock.isAncestorOf(focus):
                return dock
        return self.probe_dock if self.probe_dock.isVisible() and not self.curves_dock.isVisible() else self.curves_dock

    def _enlarged_changed(self) -> None:
        for button in self.findChildren(QToolButton, "enlargeButton"):
            button.blockSignals(True)
            button.setChecked(self.enlarged is not None)
            button.setIcon(style.icon("shrink" if self.enlarged is not None else "enlarge"))
            button.blockSignals(False)

    # ----- the start page

    def _make_start_page(self) -> StartPage:
        page = self.start_page = StartPage()
        self.stack.addWidget(page)
        page.new_requested.connect(self.new_document)
        page.open_requested.connect(self.open_dialog)
        page.import_requested.connect(self.import_dialog)
        page.fine_tune_requested.connect(self.fine_tuning.ask)  # "fine-tune a pretrained network on your images"
        page.example_chosen.connect(self.open_example)
        page.recent_chosen.connect(lambda path: self.open_path(path))
        return page

    def show_start_page(self) -> None:
        """The start page fills the window (docks and toolbar put away until a graph is chosen)."""
        from .document import torch_loader

        self.restore_panels()
        if self.start_page is None:
            self._make_start_page()
        if self.stack.currentWidget() is self.start_page:
            return
        self.start_page.show_recent(self.recent_files())
        if torch_loader().ready:
            self.start_page.count_parameters()
        self._dock_state = self.saveState(LAYOUT_VERSION)
        for dock in self.findChildren(QDockWidget):
            dock.hide()
        self.toolbar.hide()
        self.summary_label.hide()
        self.stack.setCurrentWidget(self.start_page)
        self.setWindowTitle("Start — netbuilder")

    def show_canvas(self) -> None:
        if self.start_page is None or self.stack.currentWidget() is not self.start_page:
            return
        self.stack.setCurrentWidget(self.stack.widget(0))
        self.toolbar.show()
        self.summary_label.show()
        if self._dock_state is not None:
            self.restoreState(self._dock_state, LAYOUT_VERSION)
        self._update_title()
