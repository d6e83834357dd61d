"""The local model in the sidebar: which model (bundled, downloaded in one click, or a file).

``model_picker`` is the sidebar's "Model" field for the Local provider. It lists the bundled
model, the catalogue's chat GGUFs (size, memory need, licence) and "a GGUF file on this
machine". Choosing a catalogue model that is not downloaded yet downloads it: in the
background (it survives reruns and other clicks) while a progress bar follows it, and from the
moment the checked file is in place the model is used. Offline, one sentence says so, the
bundled model keeps answering, and "Try again" resumes later. (A hosted demo shows no picker:
its visitors use the host's model.)
"""

from __future__ import annotations

import streamlit as st

from chatkit.providers import ProviderKind
from chatkit.providers.local.catalogue import CATALOGUE_BY_KEY, CatalogueModel
from chatkit.providers.local.downloads import (
    DownloadJob,
    cached_file,
    download_job,
    start_download,
)

BUNDLED = ""
A_FILE = "file"
PROGRESS_EVERY_SECONDS = 1.0


def _label(choice: str, kind: ProviderKind) -> str:
    if choice == BUNDLED:
        return f"{kind.default_model_label[:1].upper()}{kind.default_model_label[1:]} (offline)"
    if choice == A_FILE:
        return "A GGUF file on this machine…"
    model = CATALOGUE_BY_KEY[choice]  # (labels never change: the widget keeps its value)
    return f"{model.label} · {model.size_label}"


def _choice_of(model: str) -> str:
    """The picker's choice for a model as ``ProviderSpec.model`` holds it (or the host's
    ``CHATKIT_LOCAL_MODEL``): bundled, a catalogue key, or a file."""
    key = model.strip().lower()
    if not key:
        return BUNDLED
    return key if key in CATALOGUE_BY_KEY else A_FILE


def restore_choice(kind: ProviderKind, model: str) -> None:
    """Put a saved conversation's model into the picker (before it is drawn)."""
    choice = _choice_of(model)
    st.session_state[f"model_choice_{kind.name}"] = choice
    if choice == A_FILE:
        st.session_state[f"model_{kind.name}"] = model


def model_picker(kind: ProviderKind, configured: str = "") -> str:
    """Draw the Local provider's model choice, starting from ``configured`` (the host's
    ``CHATKIT_LOCAL_MODEL``); return what ``ProviderSpec.model`` takes: ``""`` for the
    bundled model, a catalogue key once its file is downloaded, or a path."""
    options = [BUNDLED, *CATALOGUE_BY_KEY, A_FILE]
    choice_key, file_key = f"model_choice_{kind.name}", f"model_{kind.name}"
    if st.session_state.get(choice_key) not in options:  # first draw (or a model gone)
        restore_choice(kind, configured)
    choice = st.selectbox(
        "Model",
        options,
        key=choice_key,
        format_func=lambda option: _label(option, kind),
        help="The bundled model works offline; a larger one answers better, once downloaded.",
    )
    if choice == BUNDLED:
        return ""
    if choice == A_FILE:
        st.session_state.setdefault(file_key, "")
        return st.text_input(
            "GGUF file",
            key=file_key,
            placeholder="/path/to/model.gguf",
            help="The path of any chat (instruction-tuned) GGUF model file.",
        )
    return _catalogue_choice(CATALOGUE_BY_KEY[choice])


def _catalogue_choice(model: CatalogueModel) -> str:
    """The model's key once its file is here; else the download, and ``""`` meanwhile."""
    here = cached_file(model) is not None
    st.caption(
        f"{'Downloaded' if here else 'Not downloaded yet'} · {model.parameters} parameters · "
        f"{model.size_label} · needs about {model.memory_gb:g} GB of memory · "
        f"[{model.licence}]({model.licence_url})"
    )
    if here:
        return model.key
    job = download_job(model)
    if job is None or (not job.running and job.error is None):
        job = start_download(model)  # choosing the model is asking for it
    short = _memory_shortfall(model)
    if short:
        st.warning(short, icon=":material/memory:")
    if job.running:
        _download_progress(model)
    elif job.error is not None:
        _try_again(model, job)
    st.caption("Until it is downloaded, the bundled model answers.")
    return ""


def _try_again(model: CatalogueModel, job: DownloadJob) -> None:
    """The failure in one sentence, and a button that resumes the download."""
    assert job.error is not None
    st.warning(job.error.message, icon=":material/cloud_off:")
    st.button(
        "Try again",
        key=f"download_{model.key}",
        icon=":material/refresh:",
        on_click=start_download,
        args=(model,),
        use_container_width=True,
        help=f"From {model.repo_id} on Hugging Face, checked against its SHA-256.",
    )


def _memory_shortfall(model: CatalogueModel) -> str:
    """A sentence when this machine has less free memory than the model needs, else ""."""
    from chatkit.providers.local.runtime import available_memory

    free = available_memory()
    if free is None or free >= model.memory_gb * 1e9:
        return ""
    return (
        f"{model.label} needs about {model.memory_gb:g} GB of memory and this machine has "
        f"{free / 1e9:.1f} GB free: it may fail to load."
    )


@st.fragment(run_every=PROGRESS_EVERY_SECONDS)
def _download_progress(model: CatalogueModel) -> None:
    """The progress bar, redrawn every second; the whole page reruns when the job ends."""
    job = download_job(model)
    if job is None or not job.running:
        st.rerun()
    progress = job.progress
    st.progress(progress.fraction, text=f"Downloading: {progress.sentence()}")
