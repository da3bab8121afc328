"""Fixtures for the quality tests: a warehouse with the contract's tables, empty."""

from __future__ import annotations

import pytest
from quality_data import DDL

from echo_ops.warehouse import connect


@pytest.fixture
def wh(settings):
    con = connect(settings=settings)
    for ddl in DDL.values():
        con.execute(ddl)
    yield con
    con.close()
