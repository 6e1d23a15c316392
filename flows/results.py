"""Where make-film's persisted result (its `FilmResult`, JSON) is kept: beside the films.

Prefect builds a flow run's result store before the flow's code runs, from the flow's `result_storage` (fixed at
import) or its settings (PREFECT_LOCAL_STORAGE_PATH, PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK). The films' folder is
known only once the run has read its FilmStitch settings, so the run points its own result store there just
before it returns: the engine writes the return value with the store of the run's context
(prefect.flow_engine `handle_success`). A result written to an unsaved local filesystem is recorded by its
absolute path, so `state.result()` reads it from any process on the machine (the batch, the client).

Films on S3: the result stays in Prefect's own result storage (PREFECT_LOCAL_STORAGE_PATH by default; a team
with workers on several machines sets PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK to a shared bucket's block).
"""

from __future__ import annotations

from prefect.context import FlowRunContext
from prefect.filesystems import LocalFileSystem

from filmstitch.storage import FilmStore, LocalStore

#: The folder of persisted run results, under the films' folder (no film id starts with a dot).
RESULTS_DIR = ".prefect-results"


def keep_result_beside(store: FilmStore) -> None:
    """Persist this flow run's result under the films' folder (local films only; see the module's docstring)."""
    context = FlowRunContext.get()
    if context is None or context.result_store is None or not isinstance(store.store, LocalStore):
        return
    storage = LocalFileSystem(basepath=str(store.store.root / RESULTS_DIR))
    context.result_store = context.result_store.model_copy(update={"result_storage": storage})
