"""UI elements with JavaScript of their own, loaded once by NiceGUI's component mechanism."""

from app.pages.components.browser_notifier import BrowserNotifier
from app.pages.components.csv_upload import CsvUpload
from app.pages.components.job_grid import JobGrid
from app.pages.components.local_time import LocalTime
from app.pages.components.status_icon import StatusIcon
from app.pages.components.theme_toggle import ThemeToggle
from app.pages.components.zone_note import ZoneNote

__all__ = ['BrowserNotifier', 'CsvUpload', 'JobGrid', 'LocalTime', 'StatusIcon', 'ThemeToggle', 'ZoneNote']
