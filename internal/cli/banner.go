package cli

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/noex-go/noex"
)

// VersionLine is what --version prints and the banner starts with. It is
// this build's version, not the reference's fixed "v0.1.0"
// (COMPATIBILITY.md P§11 #35).
func VersionLine() string { return "noex-server v" + noex.Version }

// Usage is the --help text, generated from the settings table.
func Usage() string {
	var b strings.Builder
	b.WriteString("Usage: noex-server [options]\n\n")
	b.WriteString("Starts a noex WebSocket server.\n\nOptions:\n")
	type line struct{ left, right string }
	var lines []line
	width := 0
	add := func(left, right string) {
		lines = append(lines, line{left, right})
		width = max(width, len(left))
	}
	for i := range keys {
		st := &keys[i]
		if st.flag == "" {
			continue
		}
		left := "    --" + st.flag
		if st.short != 0 {
			left = "-" + string(st.short) + ", --" + st.flag
		}
		if st.arg != "" {
			left += " " + st.arg
		}
		right := st.help
		if st.def != "" {
			right += " (default: " + st.def + ")"
		}
		add(left, right)
	}
	add("-h, --help", "print this help and exit")
	add("-v, --version", "print the version and exit")
	for _, l := range lines {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, l.left, l.right)
	}
	b.WriteString(`
Every option except --help and --version can also be set with an
environment variable: NOEX_ and the option name in upper case with dashes
as underscores (NOEX_PORT=9090, NOEX_NO_RULES=true). Switches take
true/1 (on) or false/0 (same as unset).

Config file (--config) keys:
`)
	b.WriteString(wrap(fileKeys(), "  ", 76))
	b.WriteString(`
Precedence: options, then environment, then config file, then defaults.
See docs/configuration.md for every setting.
`)
	return b.String()
}

// fileKeys lists the config file's keys, objects with their members:
// "port, host, …, heartbeat {intervalMs, timeoutMs}, …".
func fileKeys() []string {
	var out []string
	for i := range keys {
		st := &keys[i]
		switch {
		case st.key == "":
		case st.object:
			var members []string
			for j := range keys {
				if m, ok := strings.CutPrefix(keys[j].key, st.key+"."); ok {
					members = append(members, m)
				}
			}
			out = append(out, st.key+" {"+strings.Join(members, ", ")+"}")
		case !strings.Contains(st.key, "."):
			out = append(out, st.key)
		}
	}
	return out
}

// wrap joins words with ", " into lines of at most width characters.
func wrap(words []string, indent string, width int) string {
	var b strings.Builder
	line := indent
	for i, w := range words {
		if i < len(words)-1 {
			w += ","
		}
		if len(line)+1+len(w) > width && line != indent {
			b.WriteString(line + "\n")
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += w
	}
	b.WriteString(line + "\n")
	return b.String()
}

// rateLimitWarning is printed to stderr at start-up when the server
// listens on every interface without a request limit (PROTOCOL.md §8.1).
const rateLimitWarning = "[noex-server] Warning: rate limiting is disabled. Consider enabling it for production use."

// needsRateLimitWarning reports whether to print rateLimitWarning. The
// reference checks for "0.0.0.0" only; "::" and "" listen everywhere too.
func needsRateLimitWarning(s Settings) bool {
	switch s.Server.Host {
	case "0.0.0.0", "::", "":
		return s.Server.RateLimit == nil
	}
	return false
}

// WriteBanner prints the start-up banner of PROTOCOL.md §9.4, with the
// configured host and the port actually listened on.
func WriteBanner(w io.Writer, s Settings, port int) {
	cfg := s.Server
	hostPort := net.JoinHostPort(cfg.Host, strconv.Itoa(port))
	url := "ws://" + hostPort
	if cfg.Path != "/" {
		url += cfg.Path
	}
	row := func(label, value string) { fmt.Fprintf(w, "  %-13s %s\n", label+":", value) }

	fmt.Fprintln(w, VersionLine())
	row("URL", url)
	row("Persistence", persistenceState(s))
	row("Auth", authState(s))
	row("Rules", rulesState(s))
	row("Audit", onOff(s.Audit, "enabled", "disabled"))
	row("Error details", onOff(cfg.HideErrorDetails, "hidden", "exposed"))
	row("Origins", originsState(cfg.AllowedOrigins))
	row("Max conn/IP", onOff(cfg.MaxConnectionsPerIP > 0, strconv.Itoa(cfg.MaxConnectionsPerIP), "unlimited"))
	row("Metrics", metricsState(cfg, hostPort))
}

func onOff(on bool, yes, no string) string {
	if on {
		return yes
	}
	return no
}

func persistenceState(s Settings) string {
	switch s.Persistence {
	case PersistenceFile:
		return "file (" + s.DataDir + ")"
	case PersistenceSQLite:
		return "sqlite (" + s.DB + ")"
	}
	return s.Persistence
}

func rulesState(s Settings) string {
	if !s.Rules {
		return "disabled"
	}
	return "enabled"
}

func originsState(origins []string) string {
	switch {
	case origins == nil:
		return "any"
	case len(origins) == 0:
		return "none (only clients that send no Origin)"
	}
	return strings.Join(origins, ", ")
}

func metricsState(cfg noex.Config, hostPort string) string {
	if cfg.MetricsAddr == "" {
		return "http://" + hostPort + "/metrics (and /healthz, /readyz)"
	}
	addr := cfg.MetricsAddr
	if host, port, err := net.SplitHostPort(addr); err == nil && host == "" {
		addr = net.JoinHostPort("0.0.0.0", port)
	}
	return "http://" + addr + "/metrics (and /healthz, /readyz)"
}

func authState(s Settings) string {
	switch {
	case s.Auth:
		return "built-in"
	case s.JWT.Algorithm != "" && s.JWT.Optional:
		return "jwt (" + s.JWT.Algorithm + ", optional)"
	case s.JWT.Algorithm != "":
		return "jwt (" + s.JWT.Algorithm + ")"
	}
	return "disabled"
}
