"""The inline executor against the shared executor contract."""

import pytest

from exante.executors.inline import InlineExecutor
from executor_contract import ExecutorContract, executor_factory


class TestInlineExecutor(ExecutorContract):
    in_process = True  # no time limit, no worker to lose: those two tests skip, saying why

    @pytest.fixture
    def make(self):
        with executor_factory(InlineExecutor) as make:
            yield make
