"""On PostgreSQL, refuse UPDATE and DELETE on the audit table below the application too."""

from django.db import migrations

SQL = """
CREATE OR REPLACE FUNCTION wangge_audit_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit_auditentry is append-only';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS audit_append_only ON audit_auditentry;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit_auditentry
  FOR EACH ROW EXECUTE FUNCTION wangge_audit_append_only();
"""
# SQLite (the embedded single-office install) relies on the application-level refusal in
# audit.models: a row trigger there would also refuse Django's flush (a DELETE) between transactional
# tests, while PostgreSQL flushes with TRUNCATE, which row triggers do not see.


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SQL)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_append_only ON audit_auditentry;")


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
