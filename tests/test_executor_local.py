"""The local process-pool executor against the shared executor contract."""

import pytest

from exante.executors.local import LocalExecutor
from executor_contract import ExecutorContract, executor_factory


class TestLocalExecutor(ExecutorContract):
    @pytest.fixture
    def make(self):
        with executor_factory(LocalExecutor, workers=2) as make:
            yield make
