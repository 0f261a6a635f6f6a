"""The files and batches endpoints of the test server (`openai_server.FakeOpenAIServer`), over TCP
as OpenAI serves them, with a state a test drives:

    srv.batch_store.path = ["validating", "in_progress", "finalizing", "completed"]
        the statuses a new batch walks through, one step per retrieve (end in "failed", "expired"
        or "cancelled" for those); "expired" answers the first half of the lines only;
        `paths` (a deque) gives the next batches their own paths first
    srv.batch_store.hold.set()      a batch stays in_progress until the test clears it
    srv.batch_store.no_output       a completed batch with no output file
    srv.batch_store.extra_lines     lines added to the output (a custom_id never sent)
    srv.batch_store.busy            (status, headers) answered to the next requests first, one each

Each answered line takes the next entry of the server's `script` as a synchronous request would:
("content", text) is that answer, ("status", code, headers) puts the line in the error file with
that status. `created` lists the batches made, in order.
"""
from __future__ import annotations

import json
import threading
import time
from collections import deque
from email.parser import BytesParser
from email.policy import HTTP


class BatchStore:
    def __init__(self, chat):
        self.chat = chat
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict] = {}
        self.created: list[str] = []
        self.path = ["validating", "in_progress", "finalizing", "completed"]
        self.paths: deque = deque()  # the path of the next batches, one each, before `path`
        self.hold = threading.Event()
        self.no_output = False
        self.extra_lines: list[dict] = []
        self.retrieved: list[str] = []  # statuses handed out, in order
        self.busy: deque = deque()
        self._lock = threading.Lock()

    def handle(self, verb: str, path: str, headers, data: bytes):
        parts = path.split("?")[0].strip("/").split("/")[1:]  # after "v1"
        with self._lock:
            if self.busy:
                status, extra = self.busy.popleft()
                return status, {"error": {"message": "busy"}}, extra
            if parts == ["files"] and verb == "POST":
                return 200, self._upload(headers, data)
            if len(parts) == 3 and parts[0] == "files" and parts[2] == "content":
                return (200, self.files[parts[1]]) if parts[1] in self.files else (404, {"error": {"message": "no file"}})
            if parts == ["batches"] and verb == "POST":
                return 200, self._create(json.loads(data))
            if parts == ["batches"]:
                return 200, {"object": "list", "data": [self._public(b) for b in self.batches.values()],
                             "has_more": False}
            if len(parts) >= 2 and parts[0] == "batches" and parts[1] in self.batches:
                b = self.batches[parts[1]]
                if len(parts) == 3 and parts[2] == "cancel":
                    self._finish(b, "cancelled")
                elif b.setdefault("seen", False):
                    self._advance(b)
                else:  # the first look shows the first status
                    b["seen"] = True
                if len(parts) == 2:
                    self.retrieved.append(b["status"])
                return 200, self._public(b)
        return 404, {"error": {"message": f"no route {verb} {path}"}}

    def _upload(self, headers, data: bytes) -> dict:
        msg = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {headers['Content-Type']}\r\n\r\n".encode() + data)
        content, name = b"", "upload"
        for part in msg.iter_parts():
            if part.get_param("name", header="content-disposition") == "file":
                content, name = part.get_payload(decode=True), part.get_filename() or name
        file_id = f"file-{len(self.files) + 1}"
        self.files[file_id] = content
        return {"id": file_id, "object": "file", "bytes": len(content), "created_at": int(time.time()),
                "filename": name, "purpose": "batch", "status": "processed"}

    def _create(self, req: dict) -> dict:
        batch_id = f"batch_{len(self.created) + 1}"
        lines = [json.loads(x) for x in self.files[req["input_file_id"]].decode().splitlines() if x.strip()]
        self.batches[batch_id] = {"id": batch_id, "input_file_id": req["input_file_id"], "lines": lines,
                                  "path": list(self.paths.popleft() if self.paths else self.path), "step": 0, "status": self.path[0],
                                  "metadata": req.get("metadata"), "output_file_id": None, "error_file_id": None,
                                  "counts": {"total": len(lines), "completed": 0, "failed": 0}, "errors": None}
        self.created.append(batch_id)
        return self._public(self.batches[batch_id])

    def _advance(self, b: dict) -> None:
        if b["status"] in ("completed", "failed", "expired", "cancelled"):
            return
        if b["status"] == "in_progress" and self.hold.is_set():
            b["counts"]["completed"] = len(b["lines"]) // 2
            return
        b["step"] = min(b["step"] + 1, len(b["path"]) - 1)
        status = b["path"][b["step"]]
        if status in ("completed", "failed", "expired", "cancelled"):
            self._finish(b, status)
        else:
            b["status"] = status
            if status == "in_progress":
                b["counts"]["completed"] = len(b["lines"]) // 2

    def _finish(self, b: dict, status: str) -> None:
        b["status"] = status
        if status == "failed":
            b["errors"] = {"object": "list", "data": [{"code": "invalid_request", "message": "injected failure"}]}
            return
        answered = b["lines"] if status in ("completed",) else b["lines"][:len(b["lines"]) // 2]
        out, err = [], []
        for line in answered:
            fault = self.chat.script.popleft() if self.chat.script else None
            self.chat.requests.append(line["body"])
            if isinstance(fault, tuple) and fault[0] == "status":
                err.append({"id": f"req-{len(err)}", "custom_id": line["custom_id"],
                            "response": {"status_code": fault[1], "request_id": "r",
                                         "body": {"error": {"message": f"injected {fault[1]}"}}}, "error": None})
            else:
                out.append({"id": f"req-{len(out)}", "custom_id": line["custom_id"],
                            "response": {"status_code": 200, "request_id": "r",
                                         "body": self.chat.completion_for(line["body"], fault)}, "error": None})
        out += self.extra_lines
        b["counts"] = {"total": len(b["lines"]), "completed": len(out), "failed": len(err)}
        if out and not self.no_output:
            b["output_file_id"] = self._store(out)
        if err:
            b["error_file_id"] = self._store(err)

    def _store(self, objs: list[dict]) -> str:
        file_id = f"file-{len(self.files) + 1}"
        self.files[file_id] = "".join(json.dumps(o) + "\n" for o in objs).encode()
        return file_id

    @staticmethod
    def _public(b: dict) -> dict:
        return {"id": b["id"], "object": "batch", "endpoint": "/v1/chat/completions", "errors": b["errors"],
                "input_file_id": b["input_file_id"], "completion_window": "24h", "status": b["status"],
                "output_file_id": b["output_file_id"], "error_file_id": b["error_file_id"],
                "created_at": int(time.time()), "request_counts": b["counts"], "metadata": b["metadata"]}
