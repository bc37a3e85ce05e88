// Package synctest runs the editor's project session (studio/sync) against a real studio
// server: autosave, a server killed and restarted mid-edit, a tab closed while offline,
// conflicting saves, jobs with progress, cancel and a lost connection, and inpainting with the
// shipped model. It holds only tests: studio/ must not import web/, so the tests that need
// both live here.
package synctest
