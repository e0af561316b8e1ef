"""The explorer's number controls: any value of a hyper-parameter from a slider of round values or a box.

:class:`ValueControl` pairs a ``SelectionSlider`` over round, roughly log-spaced values
(:func:`log_grid`) with a ``FloatText`` in which any value in ``[low, high]`` can be typed; a typed value
joins the slider's options, so both always show the same number. A value outside the range is refused
with a message (never clamped silently), and a control that does not apply (λ under L_A) says so in its
readout instead of showing a stale number.
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

__all__ = ["log_grid", "round_value", "ValueControl"]

_MANTISSAS: tuple[float, ...] = (1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.7, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0)


def round_value(value: float, digits: int = 4) -> float:
    """``value`` to ``digits`` significant digits (run ids write numbers with ``:g``)."""
    return float(f"{float(value):.{digits}g}")


def log_grid(low: float, high: float, extra: Iterable[float] = ()) -> list[float]:
    """Round values from ``low`` to ``high`` (both included), spaced by factors of 1.1 to 1.33 (1, 1.1, ...,
    1.5, 1.7, 2, 2.5, 3, 4, ..., 8 per decade), with ``extra`` values added; sorted, without repeats."""
    values = {round_value(m * 10.0 ** e) for e in range(-4, 5) for m in _MANTISSAS}
    values |= {round_value(low), round_value(high)} | {round_value(v) for v in extra}
    return sorted(v for v in values if low <= v <= high)


def _label(value: float) -> str:
    return f"{value:g}"


class ValueControl:
    """A slider of round values and a number box for one hyper-parameter (``widget``: both in a row).

    Args:
        name: the description (``"λ"``, ``"ω"``).
        grid: the slider's round values (a typed value is added to them).
        low, high: the values accepted (inclusive).
        value: the initial value (added to the grid if needed).
        tooltip: what the parameter is.

    ``value`` is the current value; :meth:`observe` registers a callback run with the new value after each
    change made in the browser (not after :meth:`set_value`); ``on_notice`` gets a message when a typed
    value is refused or rounded.
    """

    def __init__(self, name: str, grid: Sequence[float], low: float, high: float, value: float,
                 tooltip: str = "") -> None:
        import ipywidgets as W

        self.name, self.low, self.high = name, float(low), float(high)
        self._grid = sorted({round_value(v) for v in grid})
        self._value = round_value(value)
        self._silent = False
        self._reason: str | None = None
        self._callbacks: list[Callable[[float], None]] = []
        self.on_notice: Callable[[str], None] = lambda message: None
        self.slider = W.SelectionSlider(options=self._options(), value=self._value, description=name,
                                        continuous_update=False, tooltip=tooltip, style={"description_width": "5em"},
                                        layout=W.Layout(width="34em"))
        self.box = W.FloatText(value=self._value, description="or type", tooltip=f"any {name} in [{low:g}, {high:g}]",
                               style={"description_width": "4.5em"}, layout=W.Layout(width="12em"))
        self.range = W.HTML(self._range_html())
        self.widget = W.HBox([self.slider, self.box, self.range])
        self.slider.observe(self._from_slider, names="value")
        self.box.observe(self._from_box, names="value")

    # ------------------------------------------------------------------ state

    @property
    def value(self) -> float:
        return self._value

    @property
    def applies(self) -> bool:
        """False while :meth:`set_not_used` holds (the readout shows why)."""
        return self._reason is None

    def observe(self, callback: Callable[[float], None]) -> None:
        self._callbacks.append(callback)

    def _options(self) -> list[tuple[str, float]]:
        values = sorted(set(self._grid) | {self._value})
        return [(_label(v), v) for v in values]

    def set_value(self, value: float) -> None:
        """Show ``value`` (rounded to 4 significant digits) on both widgets, without calling the observers."""
        self._value = round_value(value)
        if self._reason is None:
            self._show(rebuild=self._value not in [v for _, v in self.slider.options])

    def add_to_grid(self, values: Iterable[float]) -> None:
        """Add ``values`` in range (e.g. those with a finished run) to the slider's stops."""
        new = {round_value(v) for v in values if self.low <= v <= self.high} - set(self._grid)
        if new:
            self._grid = sorted(set(self._grid) | new)
            if self._reason is None:
                self._show(rebuild=True)

    def _show(self, rebuild: bool) -> None:
        """Put the current value on both widgets (``rebuild``: the slider's options first), silently."""
        self._silent = True
        try:
            if rebuild:
                self.slider.options = self._options()
            self.slider.value = self._value
            self.box.value = self._value
        finally:
            self._silent = False

    def set_not_used(self, reason: str | None) -> None:
        """Disable both widgets and show ``reason`` (e.g. ``"not used by L_A"``) in the slider's readout; the
        value is kept for when the control applies again (``reason=None``)."""
        self._reason = reason
        self.slider.disabled = self.box.disabled = reason is not None
        self.box.layout.visibility = "hidden" if reason is not None else "visible"
        self.range.value = "" if reason is not None else self._range_html()
        if reason is None:
            self._show(rebuild=True)
            return
        self._silent = True
        try:
            self.slider.options = [(reason, self._value)]
            self.slider.value = self._value
        finally:
            self._silent = False

    def _range_html(self) -> str:
        return f"<span style='color:#666'>any value in [{self.low:g}, {self.high:g}]</span>"

    def set_disabled(self, disabled: bool) -> None:
        """Freeze both widgets (while a run trains); a control that does not apply stays disabled."""
        self.slider.disabled = self.box.disabled = disabled or self._reason is not None

    # ------------------------------------------------------------------ events

    def _changed(self, value: float) -> None:
        for callback in self._callbacks:
            callback(value)

    def _from_slider(self, change: dict) -> None:
        if self._silent or self._reason is not None or change["new"] is None:
            return
        self.set_value(change["new"])
        self._changed(self._value)

    def _from_box(self, change: dict) -> None:
        if self._silent or self._reason is not None:
            return
        typed = change["new"]
        if typed is None or not self.low <= typed <= self.high:
            self.on_notice(f"{self.name} = {typed:g} is outside [{self.low:g}, {self.high:g}]: kept "
                            f"{self.name} = {self._value:g}.")
            self.set_value(self._value)
            return
        rounded = round_value(typed)
        if rounded != typed:
            self.on_notice(f"{self.name} = {typed!r} rounded to {rounded:g} (4 significant digits, as run ids "
                            "write it).")
        self.set_value(rounded)
        self._changed(self._value)
