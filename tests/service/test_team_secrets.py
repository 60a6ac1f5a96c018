"""A database password never reaches a sentence, a log or a report: in the address or in the URL's query."""

from __future__ import annotations

import pytest

from studio.domain.errors import StoreError
from studio.storage import Store
from studio.storage.copy_repo import shown as shown_by_copy
from studio.storage.database import shown


@pytest.mark.parametrize("show", [shown, shown_by_copy])
def test_a_password_in_the_address_or_the_query_is_hidden(show):
    url = "postgresql+psycopg://ann:s3cret-pw@127.0.0.1:5432/studio?password=q-s3cret&sslpassword=k-s3cret"
    text = show(url)
    assert "s3cret" not in text
    assert "ann" in text and "127.0.0.1:5432/studio" in text


def test_an_unreachable_server_is_named_without_its_password(tmp_path):
    from tests.servers import free_port

    url = f"postgresql+psycopg://ann:s3cret-pw@127.0.0.1:{free_port()}/studio?password=q-s3cret"
    with pytest.raises(StoreError) as caught:
        Store(tmp_path / "data", database_url=url)
    assert "s3cret" not in str(caught.value) and "127.0.0.1" in str(caught.value)
