"""The global runs page: every invocation a user can see, filtered and
searched, paged by keyset (runs.query); and, from any invocation, its
event opened in the Test tab or invoked again (runs.views)."""
