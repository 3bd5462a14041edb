"""Settings: JOBS_ environment variables, the generated secret, rejected weak secrets."""

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config import Settings


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv('JOBS_DATA_DIR', str(tmp_path / 'elsewhere'))
    monkeypatch.setenv('JOBS_PORT', '9123')
    monkeypatch.setenv('JOBS_MAX_UPLOAD_MB', '5')
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.resolved_data_dir == tmp_path / 'elsewhere'
    assert settings.port == 9123
    assert settings.max_upload_bytes == 5 * 1024 * 1024
    assert settings.host == '127.0.0.1'
    assert settings.retention_days == 90


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / '.env').write_text('JOBS_PORT=9555\nJOBS_RETENTION_DAYS=7\n')
    settings = Settings()
    assert (settings.port, settings.retention_days) == (9555, 7)


def test_generated_secret_is_kept_owner_only_and_stable(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    settings.prepare_data_dir()
    first = settings.session_secret()
    assert len(first) >= 32
    assert settings.session_secret() == first
    mode = stat.S_IMODE((tmp_path / 'storage_secret').stat().st_mode)
    assert mode == 0o600


@pytest.mark.parametrize('secret', ['changeme', 'short'])
def test_placeholder_or_short_secret_is_rejected(secret: str) -> None:
    with pytest.raises(ValidationError, match='JOBS_STORAGE_SECRET'):
        Settings(_env_file=None, storage_secret=secret)  # type: ignore[call-arg]
