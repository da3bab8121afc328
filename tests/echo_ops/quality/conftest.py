"""Fixtures for the quality tests: a warehouse with every table of include/sql/ddl, empty."""

from __future__ import annotations

import pytest

from echo_ops.warehouse import connect
from tests.kit import create_tables


@pytest.fixture
def wh(settings):
    con = create_tables(connect(settings))
    yield con
    con.close()
