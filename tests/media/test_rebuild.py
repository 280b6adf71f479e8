"""A rebuild (what a reload runs) sees a media file's change though no flow file changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.bot import AttachmentStep, Bot
from runtime.build import BotBuilder
from runtime.errors import ConfigError
from tests.media.conftest import media_bot, png


def logo_sha(bot: Bot) -> str:
    step = bot.flows["logo"].steps[0]
    assert isinstance(step, AttachmentStep)
    assert step.file is not None
    return step.file.sha256


def test_new_content_makes_a_new_version_with_the_new_hash(
    tmp_path: Path, env: dict[str, str]
) -> None:
    builder = BotBuilder(media_bot(tmp_path), env=env)
    first = builder.build().bot
    assert builder.build().bot.version == first.version  # nothing changed: nothing new
    (tmp_path / "media" / "logo.png").write_bytes(png(0, 0, 0))
    second = builder.build().bot
    assert second.version != first.version
    assert logo_sha(second) != logo_sha(first)


def test_a_missing_file_put_in_place_makes_the_next_build_good(
    tmp_path: Path, env: dict[str, str]
) -> None:
    config = media_bot(tmp_path)
    logo = tmp_path / "media" / "logo.png"
    content = logo.read_bytes()
    logo.unlink()
    builder = BotBuilder(config, env=env)
    with pytest.raises(ConfigError, match=r"cannot read '\.\./media/logo\.png'"):
        builder.build()
    logo.write_bytes(content)
    assert logo_sha(builder.build().bot)
