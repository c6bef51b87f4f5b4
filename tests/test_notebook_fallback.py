"""helpers.notebook.yours_or_ours: demonstrations use the student's function once it works, the course's before."""

from __future__ import annotations

import pytest
import torch

from helpers import pooling
from helpers.notebook import median_time, yours_or_ours

NOTE = "your `pad` is not done yet: showing the course's version"


def pad(x):
    raise NotImplementedError()


def ours(x):
    return x + 1


def test_a_stub_falls_back_to_the_course_version_with_one_note(capsys):
    shown = yours_or_ours(pad, ours)
    assert shown(1) == 2 and shown(5) == 6
    assert capsys.readouterr().out == NOTE + "\n"        # one note for the wrapper, not one per call


def test_a_working_answer_is_used_and_no_note_is_printed(capsys):
    def pad(x):
        return x * 10

    assert yours_or_ours(pad, ours)(3) == 30
    assert capsys.readouterr().out == ""


def test_an_answer_finished_later_is_used_from_then_on(capsys):
    done = []

    def pad(x):
        if not done:
            raise NotImplementedError()
        return -x

    shown = yours_or_ours(pad, ours)
    assert shown(1) == 2
    done.append(True)
    assert shown(1) == -1


def test_any_other_error_is_the_students_to_see():
    def pad(x):
        raise ValueError("a bug in the answer")

    with pytest.raises(ValueError, match="a bug in the answer"):
        yours_or_ours(pad, ours)(1)


def test_a_probe_decides_once_and_returns_the_chosen_function_itself(capsys):
    def probe(fn):
        return fn(0)

    assert yours_or_ours(pad, ours, probe=probe) is ours
    assert capsys.readouterr().out == NOTE + "\n"

    def pad_done(x):
        return x

    assert yours_or_ours(pad_done, ours, probe=probe) is pad_done
    assert capsys.readouterr().out == ""


def test_the_course_shift_change_matches_the_notebooks_example():
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 0, 0] = 1
    torch.testing.assert_close(pooling.shift_change(x, lambda t: t, (0, 1)), torch.tensor([2 ** 0.5]))
    pool = lambda t: torch.nn.functional.max_pool2d(t, 2)
    torch.testing.assert_close(pooling.shift_change(x, pool, (0, 1)), torch.tensor([0.0]))
    torch.testing.assert_close(pooling.shift_change(x, pool, (0, 2)), torch.tensor([2 ** 0.5]))
    with pytest.raises(ValueError, match="shift must be a pair"):
        pooling.shift_change(x, pool, 1)


def test_median_time_is_the_median_of_the_runs_on_one_thread_and_restores_the_threads():
    import time

    threads = torch.get_num_threads()
    seen, pauses = [], iter([0.0] + [0.001, 0.001, 0.05, 0.001, 0.001])      # one slow outlier after the warm-up

    def fn():
        seen.append(torch.get_num_threads())
        time.sleep(next(pauses))

    median, spread = median_time(fn, repeat=5)
    assert 0.0009 < median < 0.01                      # the 50 ms outlier does not move the median
    assert spread >= 0 and seen == [1] * 6 and torch.get_num_threads() == threads
    with pytest.raises(ValueError, match="repeat must be an int >= 1"):
        median_time(fn, repeat=0)
