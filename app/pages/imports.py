"""/imports: upload a contacts CSV; the upload starts the import job, which the page then follows live."""

from __future__ import annotations

import unicodedata
from typing import Any

from nicegui import events, ui

from app.jobs.imports import NOT_CSV, refused_params
from app.pages.auth import CurrentUser
from app.pages.components import CsvUpload
from app.pages.display import IMPORTS_PATH
from app.pages.layout import frame
from app.pages.live import LiveUpdates
from app.pages.recent_imports import RecentImports
from app.pages.session_guard import SessionGuard
from app.services import Services
from app.storage.contacts import count_contacts, recent_contacts
from app.storage.files import FileTooLarge, StoredFile
from app.storage.jobs import NewFile, job_rows
from app.storage.models import Category, FileRole, Status, User

EXAMPLE_CSV = (
    b'name,email,phone,company\r\n'
    b'Ada Lovelace,ada@example.org,+44 20 7946 0000,Analytical Engines Ltd\r\n'
    b'Grace Hopper,grace@example.org,(555) 010-0199,\r\n'
    b'Alan Turing,alan@example.org,,Bletchley Park\r\n'
)
DEFAULT_FILENAME = 'upload.csv'
MAX_FILENAME = 100
RECENT_CONTACTS = 10
FAILED_JS = (
    '(info) => emit({status: info.xhr && info.xhr.status, name: info.files && info.files[0] && info.files[0].name})'
)
REJECTED_JS = '(entries) => emit(entries.map(e => ({reason: e.failedPropValidation, name: e.file && e.file.name})))'
INSTRUCTIONS = """
Upload a CSV file (UTF-8, comma-separated) whose first line names the columns:
**name** (required), **email** (required, once per file), **phone** and **company** (optional).
Column names may be in any case and order; other columns are ignored. A contact whose e-mail already exists
is updated, otherwise it is created. Rows with problems are listed in an error report; the other rows are still
imported. Dropping or choosing files starts one import per file.
"""


def register(services: Services) -> None:
    @ui.page(IMPORTS_PATH)
    async def imports_page(user: CurrentUser) -> None:
        with frame('Contacts Import', user, services):
            view = ImportView(services, user)
        await view.recent.load()
        await view.contacts.refresh()
        LiveUpdates(services, user, view.show_changes)


class ImportView:
    """The upload (a drop zone; several files at once), the user's recent imports and the contacts list."""

    def __init__(self, services: Services, user: User) -> None:
        self.services = services
        self.user = user
        limit_mb = services.settings.max_upload_mb
        ui.markdown(INSTRUCTIONS).classes('max-w-3xl')
        ui.button('Download example CSV', icon='download', on_click=download_example).props('outline no-caps')
        self.upload = (
            CsvUpload(
                add_label='Choose CSV files to import',
                label=f'Drop contacts CSV files here, or choose them (each at most {limit_mb} MB)',
                auto_upload=True,
                multiple=True,
                max_file_size=services.settings.max_upload_bytes,
                on_upload=self.start_import,
            )
            .props('accept=.csv,text/csv flat bordered')
            .classes('w-full max-w-3xl import-drop')
            .mark('upload')
        )
        # Quasar says which check refused a file; File objects do not serialize, so send only what we show.
        self.upload.on('rejected', self.explain_rejection, js_handler=REJECTED_JS)
        self.upload.on('failed', self.explain_failure, js_handler=FAILED_JS)
        self.problem = ui.label().classes('text-error').mark('upload-problem')
        self.problem.set_visibility(False)
        self.recent = RecentImports(services, user)
        self.contacts = ContactList(services)

    async def start_import(self, event: events.UploadEventArguments) -> None:
        """Stream the upload into the file store, then launch the import job on it (as the user the page's session
        belongs to now: a page whose session ended starts nothing)."""
        filename = display_name(event.file.name)
        settings = self.services.settings
        user = await self.page_user()
        if user is None or user.id is None:
            self.upload.reset()
            self.show_problem(f'{filename} was not imported: your session has ended. Log in again.')
            return
        if not filename.lower().endswith('.csv'):  # the browser checks too; a direct POST skips that
            self.upload.reset()
            await self.refuse(user, filename, NOT_CSV)
            return
        try:
            stored = await self.services.files.save_stream(event.file.iterate(), limit=settings.max_upload_bytes)
        except FileTooLarge as error:
            await self.refuse(user, filename, str(error))
            return
        finally:
            self.upload.reset()  # ready for the next file
        job_id = await launch_import(self.services, user.id, filename, stored=stored)
        self.problem.set_visibility(False)
        await self.show_job(job_id)

    async def refuse(self, user: User | None, filename: str, reason: str) -> None:
        """A file that cannot be imported at all (over the size limit, not .csv) is not stored, but it still becomes
        an import job that ends Failed with a line-0 error report saying why (the contract), and the page says so."""
        self.show_problem(f'{filename} was not imported: {reason}.')
        if user is None or user.id is None:
            return
        await self.show_job(await launch_import(self.services, user.id, filename, refused=reason))

    async def show_job(self, job_id: int) -> None:
        for row in await self.services.threads.run(job_rows, self.services.engine, job_ids=[job_id]):
            self.recent.show(row)

    async def explain_rejection(self, event: events.GenericEventArguments) -> None:
        """The browser refused a file before uploading it (too large, or not a .csv file)."""
        entries = event.args if isinstance(event.args, list) and event.args else [{}]
        entry = entries[0] if isinstance(entries[0], dict) else {}
        filename = display_name(entry.get('name'))
        reason = self.too_large() if entry.get('reason') == 'max-file-size' else NOT_CSV
        await self.refuse(await self.page_user(), filename, reason)

    async def explain_failure(self, event: events.GenericEventArguments) -> None:
        """The server refused the upload while it streamed in (over the limit), or the connection broke."""
        details = event.args if isinstance(event.args, dict) else {}
        filename = display_name(details.get('name'))
        self.upload.reset()
        if details.get('status') == 413:
            await self.refuse(await self.page_user(), filename, self.too_large())
        else:
            self.show_problem(f'{filename} was not imported: the upload did not complete. Please try again.')

    def too_large(self) -> str:
        return f'The file is larger than the limit of {self.services.settings.max_upload_mb} MB'

    async def page_user(self) -> User | None:
        """Who the page's session belongs to now (None once it ended)."""
        guard = SessionGuard.of(self.upload.client)
        return await guard.check() if guard is not None else None

    def show_problem(self, message: str) -> None:
        self.problem.text = message
        self.problem.set_visibility(True)
        ui.notify(message, type='negative')

    async def show_changes(self, rows: dict[int, dict[str, Any]], _details: set[int]) -> None:
        """Live updates: the user's imports show their progress; a finished one refreshes the contacts."""
        for row in sorted(rows.values(), key=lambda row: row['id']):
            self.recent.show(row)
        if any(row['category'] == Category.IMPORT and row['status'] != Status.IN_PROGRESS for row in rows.values()):
            await self.contacts.refresh()


class ContactList:
    """How many contacts there are and the most recently imported or updated ones."""

    def __init__(self, services: Services) -> None:
        self.services = services
        with ui.card().classes('w-full max-w-3xl'):
            ui.html('<h2 class="text-h6 q-my-none">Contacts</h2>', sanitize=False)
            self.total = ui.label().mark('contact-count')
            columns = [
                {'name': 'name', 'label': 'Name', 'field': 'name', 'align': 'left'},
                {'name': 'email', 'label': 'E-mail', 'field': 'email', 'align': 'left'},
                {'name': 'company', 'label': 'Company', 'field': 'company', 'align': 'left'},
            ]
            self.table = ui.table(columns=columns, rows=[], row_key='email').props('flat dense').classes('w-full')

    async def refresh(self) -> None:
        engine, threads = self.services.engine, self.services.threads
        total = await threads.run(count_contacts, engine)
        recent = await threads.run(recent_contacts, engine, limit=RECENT_CONTACTS)
        self.total.text = f'{total:,} contact{"" if total == 1 else "s"}' + (
            f'; the {len(recent)} most recently imported or updated:' if recent else ''
        )
        self.table.rows = [{'name': c.name, 'email': c.email, 'company': c.company or ''} for c in recent]
        self.table.update()


async def launch_import(
    services: Services, user_id: int, filename: str, *, stored: StoredFile | None = None, refused: str = ''
) -> int:
    """Start a Contacts Import as the page and the API do: of the ``stored`` upload, or of a file ``refused`` before
    it was stored (that job ends Failed saying why)."""
    return await services.jobs.launch(
        'contacts_import',
        description=f'Import of {filename}',
        run_by_id=user_id,
        run_at=IMPORTS_PATH,
        params=refused_params(filename, refused) if refused else None,
        input_files=[NewFile(role=FileRole.INPUT, filename=filename, stored=stored)] if stored is not None else (),
    )


def download_example() -> None:
    ui.download.content(EXAMPLE_CSV, 'contacts-example.csv', 'text/csv')


def display_name(raw: str | None) -> str:
    """The user's file name made safe to show and store: no directories or control characters, limited length."""
    name = (raw or '').replace('\\', '/').rsplit('/', 1)[-1]
    # Cc: control characters; Cf: invisible formatting such as right-to-left overrides that disguise extensions.
    name = ''.join(char for char in name if unicodedata.category(char) not in ('Cc', 'Cf')).strip().lstrip('.')
    if len(name) > MAX_FILENAME:
        _stem, dot, extension = name.rpartition('.')
        keep = dot + extension if dot and len(extension) <= 10 else ''
        name = name[: MAX_FILENAME - len(keep)].rstrip() + keep
    return name or DEFAULT_FILENAME
