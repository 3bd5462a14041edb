"""Upload size limit enforced while the request body streams in, before anything is buffered or stored."""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

UPLOAD_PATH = re.compile(r'^(/_nicegui/client/[^/]+/upload/[^/]+|/api/imports)$')  # the page's upload and the API's
MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the file itself


class BodyTooLarge(Exception):
    pass


class UploadLimit:
    """Answers 413 as soon as an upload's body exceeds the limit (declared or actually sent).

    NiceGUI reads the whole multipart body before the page's upload handler runs; without this, a client
    that skips the browser-side size check could make the server buffer any amount of data.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_body = max_bytes + MULTIPART_OVERHEAD
        self.limit_mb = max_bytes // (1024 * 1024)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] != 'http' or scope['method'] != 'POST' or not UPLOAD_PATH.match(scope['path']):
            await self.app(scope, receive, send)
            return
        declared = dict(scope['headers']).get(b'content-length')
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await self._reject(send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message['type'] == 'http.request':
                received += len(message.get('body', b''))
                if received > self.max_body:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message['type'] == 'http.response.start'
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except Exception as error:
            # Middlewares below run the app in task groups, so the error may arrive wrapped in a group.
            too_large = isinstance(error, BodyTooLarge) or (
                isinstance(error, BaseExceptionGroup) and error.subgroup(BodyTooLarge) is not None
            )
            if not too_large:
                raise
            if not started:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        message = f'The file is larger than the limit of {self.limit_mb} MB'
        body = json.dumps({'error': message, 'detail': message}).encode()
        await send({
            'type': 'http.response.start',
            'status': 413,
            'headers': [(b'content-type', b'application/json'), (b'content-length', str(len(body)).encode())],
        })  # fmt: skip
        await send({'type': 'http.response.body', 'body': body})
