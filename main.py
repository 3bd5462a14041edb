"""Job Management: ``python main.py [serve]`` starts the server, ``worker`` a job worker (PostgreSQL),
``db upgrade`` migrates the database, ``user ...`` manages users, ``token create`` makes API tokens."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal
import sys

from pydantic import ValidationError

from app.config import Settings
from app.memory import limit_malloc_arenas
from app.storage import users
from app.storage.db import create_engine, current_revision, migrate

# Python's cycle collector looks at the young generation every 700 container allocations by default. An import
# keeps thousands of matches and tuples alive per block of lines, and at 700 the collector walks them over and over:
# a third of a million-row validation's time (bench: Import). Every 10,000 it runs 14 times less often, frees the
# same cycles, and a server that serves pages and runs jobs sees no difference in memory.
GC_YOUNG_THRESHOLD = 10_000


# Modules that dependencies import whenever they are installed but this server never uses, kept out to save
# memory; each importer catches the ImportError and goes on without it:
# - aiohttp (about 10 MB resident): python-socketio's client half; this server is never a socket.io client.
# - pydantic.v1 (about 1.5 MB): FastAPI imports it only to reject Pydantic 1 models, and this app has none.
# - watchfiles (about 0.7 MB): uvicorn's reloader, and this server never reloads.
UNUSED_MODULES = ('aiohttp', 'pydantic.v1', 'watchfiles')


def keep_out_unused_modules() -> None:
    """Make UNUSED_MODULES fail to import, before anything imports them."""
    for name in UNUSED_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def tune_runtime() -> None:
    """For a server or a worker, before any thread starts: the cycle collector's young generation runs less often
    (GC_YOUNG_THRESHOLD), and glibc keeps fewer heaps (app.memory.limit_malloc_arenas)."""
    _young, *older = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *older)
    limit_malloc_arenas()


def main(argv: list[str] | None = None) -> int:
    if os.environ.get('NICEGUI_USER_SIMULATION'):
        argv = []  # NiceGUI's test harness runs this file with pytest's own arguments
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as error:
        for problem in error.errors():
            name = 'JOBS_' + '_'.join(str(part) for part in problem['loc']).upper()
            print(f'Invalid setting {name}: {problem["msg"]}', file=sys.stderr)
        return 2
    if args.command in (None, 'serve'):
        tune_runtime()
        serve(settings)
        return 0
    if args.command == 'worker':
        tune_runtime()
        return run_worker(settings, concurrency=args.concurrency)
    if args.command == 'db':
        return upgrade_database(settings)
    if args.command == 'token':
        return manage_tokens(settings, args)
    return manage_users(settings, args)


def serve(settings: Settings) -> None:
    settings.prepare_data_dir()
    keep_out_unused_modules()
    # NiceGUI keeps its session store in ./.nicegui unless told before it is imported; ours is in the data dir.
    os.environ.setdefault('NICEGUI_STORAGE_PATH', str(settings.resolved_data_dir / 'sessions'))
    from nicegui import ui

    from app.services import build_services
    from app.web import create_app

    services = build_services(settings)
    create_app(services)
    ui.run(
        host=settings.host,
        port=settings.port,
        title='Job Management',
        storage_secret=settings.session_secret(),
        # JOBS_COOKIE_SECURE; the cookie lives as long as a session may (the server ends sessions earlier).
        session_middleware_kwargs={'https_only': settings.cookie_secure, 'max_age': settings.session_max_days * 86400},
        reload=False,
        show=False,
        favicon='🗂️',
        reconnect_timeout=10,
        tailwind=False,  # see app/web.py: _add_shared_styles
        language='en-US',  # also the page's lang attribute
        dark=None,  # follow the browser's preference; the header's theme button overrides it per browser
    )


def run_worker(settings: Settings, *, concurrency: int | None) -> int:
    """Run jobs without serving pages, until SIGTERM or Ctrl+C (several machines on PostgreSQL)."""
    if not settings.resolved_database_url.startswith('postgresql'):
        print(
            'Error: "worker" needs a shared PostgreSQL database (JOBS_DATABASE_URL=postgresql+psycopg://...).'
            ' With SQLite, "serve" runs every job itself.',
            file=sys.stderr,
        )
        return 2
    if concurrency is not None:
        if concurrency < 1:
            print('Error: --concurrency must be at least 1', file=sys.stderr)
            return 2
        settings = settings.model_copy(update={'worker_concurrency': concurrency})
    asyncio.run(_work(settings))
    return 0


async def _work(settings: Settings) -> None:
    from app.services import build_services

    services = build_services(settings)
    services.start(web=False)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    print(f'Worker {services.jobs.node} is running jobs (concurrency {settings.worker_concurrency})', flush=True)
    await stopping.wait()
    print(
        f'Worker stopping: running jobs get {settings.shutdown_grace_seconds} s, then go on with another worker',
        flush=True,
    )
    await services.stop()


def upgrade_database(settings: Settings) -> int:
    """Apply the app's migrations (and, on PostgreSQL, procrastinate's schema)."""
    settings.prepare_data_dir()
    engine = create_engine(settings.resolved_database_url)
    try:
        migrate(engine)
        print(f'Database is at revision {current_revision(engine)}')
    finally:
        engine.dispose()
    return 0


def manage_users(settings: Settings, args: argparse.Namespace) -> int:
    from app.services import build_services

    services = build_services(settings)
    services.prepare()
    engine = services.engine
    try:
        if args.user_command == 'add':
            users.create_user(engine, username=args.name, password=args.password, is_admin=args.admin)
            print(f'Created {"admin" if args.admin else "user"} "{args.name.strip()}"')
        elif args.user_command == 'set-password':
            users.set_password(engine, username=args.name, password=args.password)
            print(f'Password of "{args.name}" changed')
        elif args.user_command in ('disable', 'enable'):
            users.set_disabled(engine, username=args.name, disabled=args.user_command == 'disable')
            print(f'User "{args.name}" {args.user_command}d')
        elif args.user_command == 'set-admin':
            users.set_admin(engine, username=args.name, is_admin=not args.remove)
            print(f'User "{args.name}" is {"no longer an admin" if args.remove else "an admin"}')
        else:
            for user in users.list_users(engine):
                disabled = '\tdisabled' if user.disabled_at is not None else ''
                print(f'{user.username}\t{"admin" if user.is_admin else "user"}{disabled}')
    except users.UserError as error:
        print(f'Error: {error}', file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


def manage_tokens(settings: Settings, args: argparse.Namespace) -> int:
    from app.services import build_services
    from app.storage import tokens

    services = build_services(settings)
    services.prepare()
    try:
        expires = tokens.expiry_of_day(args.expires or '')  # works through that day
        new = tokens.create_token(services.engine, username=args.username, name=args.name, expires_at=expires)
        print(new.secret)
        print(f'Token "{new.token.name}" for "{args.username}": keep it now, it is not shown again.', file=sys.stderr)
    except users.UserError as error:
        print(f'Error: {error}', file=sys.stderr)
        return 1
    finally:
        services.engine.dispose()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='python main.py', description='Job Management server and admin commands.')
    commands = parser.add_subparsers(dest='command')
    commands.add_parser('serve', help='start the web server with its own job worker (the default)')
    worker = commands.add_parser('worker', help='run jobs without serving pages (PostgreSQL, several machines)')
    worker.add_argument('--concurrency', type=int, help='jobs run at once (default: JOBS_WORKER_CONCURRENCY, 10)')
    db = commands.add_parser('db', help='database maintenance').add_subparsers(dest='db_command', required=True)
    db.add_parser('upgrade', help="apply the app's migrations and the job queue's schema")
    user = commands.add_parser('user', help='manage user accounts').add_subparsers(dest='user_command', required=True)
    add = user.add_parser('add', help='create a user')
    add.add_argument('name')
    add.add_argument('--password', required=True)
    add.add_argument('--admin', action='store_true', help='give the user the admin role')
    user.add_parser('list', help='list users and their roles')
    set_password = user.add_parser('set-password', help="change a user's password")
    set_password.add_argument('name')
    set_password.add_argument('--password', required=True)
    for action, text in (('disable', 'end their sessions and tokens; they cannot log in'), ('enable', 'undo disable')):
        user.add_parser(action, help=f'{action} a user: {text}').add_argument('name')
    set_admin = user.add_parser('set-admin', help='give a user the admin role (--remove takes it away)')
    set_admin.add_argument('name')
    set_admin.add_argument('--remove', action='store_true', help='remove the admin role instead')
    token = commands.add_parser('token', help='API tokens').add_subparsers(dest='token_command', required=True)
    create = token.add_parser('create', help='create an API token for a user and print it (shown only once)')
    create.add_argument('username')
    create.add_argument('--name', required=True, help='what the token is for, e.g. "nightly import"')
    create.add_argument('--expires', help='last day the token works (YYYY-MM-DD, UTC); default: never expires')
    return parser


if __name__ == '__main__':
    code = main()
    if code:
        sys.exit(code)
