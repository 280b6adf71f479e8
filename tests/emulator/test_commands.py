"""`runtime serve --emulator` on loopback only, one worker; `runtime emulator --account`."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.cli import main
from tests.emulator.conftest import write_bot


@pytest.mark.parametrize(
    ("options", "where"),
    [(["--host", "0.0.0.0"], "not 0.0.0.0 (--host)"), ([], "not 192.0.2.7 (server.host)")],
)
def test_serve_emulator_refuses_an_address_that_is_not_loopback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], where: str
) -> None:
    config = write_bot(tmp_path)
    secrets = 'pageAccessToken: "EAAG-test", appSecret: "secret", verifyToken: "verify", '
    text = config.read_text().replace(
        "channels: { messenger: {", "channels: { messenger: {" + secrets
    )
    config.write_text(text.replace("flows: ", 'server: { host: "192.0.2.7" }, flows: '))
    assert main(["serve", "-c", str(config), "--emulator", *options]) == 2
    error = capsys.readouterr().err
    assert where in error
    assert "loopback address only" in error
    assert "signed with the app secret" in error


def test_serve_emulator_needs_one_worker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_bot(tmp_path)
    assert main(["serve", "-c", str(config), "--emulator", "--workers", "2"]) == 2
    assert "--emulator runs in one worker" in capsys.readouterr().err


def test_emulator_names_the_accounts_when_account_is_none_of_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_bot(tmp_path)
    assert main(["emulator", "-c", str(config), "--port", "0", "--account", "shop"]) == 2
    assert (
        "--account shop: no such account; the enabled accounts are 'default', 'club'"
        in capsys.readouterr().err
    )
