"""A collection's review line above the History grid when the Collection filter names one:
"12 approved · 3 changes requested · 5 open", Share… (people, the whole team, client links) and the review
pack (a PDF contact sheet with statuses and comments)."""

from __future__ import annotations

import streamlit as st

from studio.app.widgets import components, share_dialog
from studio.domain.errors import StudioError
from studio.services.gallery import GalleryFilter
from studio.services.session import StudioSession


def header(studio: StudioSession, f: GalleryFilter) -> None:
    cid = f.collection_id
    if not cid or f.deleted:
        return
    try:
        names = {c: name for c, name, _n in studio.organise.collections()}
        counts = studio.review.counts(cid)
    except StudioError as exc:
        st.caption(components.escape_md(str(exc)))
        return
    name = names.get(cid, f"#{cid}")
    with st.container(horizontal=True, vertical_alignment="center", gap="small", key="hist_review_counts"):
        st.markdown(f":material/collections_bookmark: **{components.escape_md(name)}** · {counts.sentence()}")
        if studio.actor.can_generate:
            st.button(
                "Share…",
                key="hist_share",
                icon=":material/share:",
                type="tertiary",
                on_click=share_dialog.open_for,
                args=(cid,),
            )
            share_dialog.keep_open(studio, cid, name)
        st.download_button(
            "Review pack (PDF)",
            data=lambda: studio.review.pack_pdf(cid),
            file_name=f"review-pack-{cid}.pdf",
            mime="application/pdf",
            key="hist_review_pack",
            icon=":material/picture_as_pdf:",
            type="tertiary",
            on_click="ignore",
        )
