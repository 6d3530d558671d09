"""Learning-rate schedules: the warm-up and cosine decay that fine-tuning uses, step by step."""
import numpy as np
import pytest

from modules import learning_rate


def test_warmup_rises_over_the_first_epoch_then_decays_to_zero_along_a_cosine():
    peak, epochs, steps = 5e-4, 8, 10
    schedule = learning_rate.WarmupCosineDecay(peak, epochs, steps)
    rates = np.array([schedule.rate(step) for step in range(epochs * steps)])
    np.testing.assert_allclose(rates[:steps], peak * np.arange(1, steps + 1) / steps)  # linear warm-up
    assert rates[steps] == pytest.approx(peak)  # the peak, once
    assert (np.diff(rates[steps:]) < 0).all()  # then always down
    assert rates[steps + (epochs * steps - steps) // 2] == pytest.approx(peak / 2)  # half-way: half the peak
    assert 0 < rates[-1] < peak * 1e-3


def test_a_single_epoch_is_all_warm_up():
    schedule = learning_rate.WarmupCosineDecay(1e-3, epochs=1, steps_per_epoch=4)
    assert [schedule.rate(step) for step in range(4)] == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3])


def test_unknown_schedules_name_the_known_ones():
    assert len(learning_rate.schedule_callbacks("reduce_on_plateau", 1e-3, 10, 5)) == 1
    with pytest.raises(ValueError, match="unknown learning-rate schedule 'step'.*warmup_cosine"):
        learning_rate.schedule_callbacks("step", 1e-3, 10, 5)
