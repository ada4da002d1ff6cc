"""Warnings for the two failures GAN users fear: D overpowering G, and mode collapse."""

from __future__ import annotations

from dataclasses import dataclass, field

D_WINS_ACCURACY = 0.999
D_WINS_LOGS = 5


GRAY_AS_RGB_HINT = "gray data tiled to --channels 3 gives D an easy cue that --channels 1 removes"
GENERIC_HINT = "try --real-label 0.9 (label smoothing), --g-steps 2, or a lower --lr"


@dataclass
class OverpoweringAlarm:
    """Warns once per streak when D's accuracy stays at 1.0 for ``logs`` log lines in a row."""

    hint: str = GENERIC_HINT
    logs: int = D_WINS_LOGS
    streak: list[int] = field(default_factory=list)

    def update(self, facc: float, iteration: int) -> str | None:
        if facc < D_WINS_ACCURACY:
            self.streak = []
            return None
        self.streak.append(iteration)
        if len(self.streak) != self.logs:
            return None
        return (
            f"D's accuracy has been 1.0 for {self.logs} logs (iterations {self.streak[0]}-{iteration}): "
            f"D is overpowering G, whose samples will not improve; {self.hint}"
        )


UNSURE_CONFIDENCE = 0.5


def collapse_warning(rare_digits: list[int], mean_confidence: float, share: float = 0.02) -> str | None:
    """A warning naming the digits below ``share`` of samples, or None.

    When the classifier is unsure of the samples (they do not look like digits
    yet), the missing digits say little about collapse, and the warning says so.
    """
    if not rare_digits:
        return None
    digits = ", ".join(map(str, rare_digits))
    if mean_confidence < UNSURE_CONFIDENCE:
        return (f"samples do not look like digits yet (mean classifier confidence {mean_confidence:.2f}); "
                f"digits {digits} are each below {share:.0%} of them")
    return f"digits {digits} make up less than {share:.0%} of samples each: G is dropping modes (mode collapse)"
