import sqlalchemy as sa


def test_pg(pg_server):
    url = pg_server.create_database()
    e = sa.create_engine(url)
    with e.connect() as c:
        assert c.exec_driver_sql("select version()").scalar().startswith("PostgreSQL 15")


def test_s3(s3):
    b = s3.create_bucket()
    c = s3.client()
    c.put_object(Bucket=b, Key="k", Body=b"x")
    assert c.get_object(Bucket=b, Key="k")["Body"].read() == b"x"
