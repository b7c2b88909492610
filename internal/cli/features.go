package cli

// Parts of the reference server this build does not have yet. Each is one
// constant: when the part lands, flip it to true and mount the part in
// Serve. Until then a setting that asks for a missing part refuses to
// start (never run without authentication when it was asked for), except
// rules, which the reference turns on by default: the banner says they
// are unavailable.
const (
	identityAvailable = false
	auditAvailable    = false
	rulesAvailable    = true
)

// unavailable lists what the settings ask for that this build lacks.
func (s Settings) unavailable() []string {
	var missing []string
	if s.Auth && !identityAvailable {
		missing = append(missing, "built-in identity is not available in this build yet")
	}
	if s.Audit && !auditAvailable {
		missing = append(missing, "the audit log is not available in this build yet")
	}
	return missing
}
