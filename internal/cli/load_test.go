package cli

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/noex-go/noex"
)

// source of a test run: command line, environment and config file text
// (empty = no file).
type input struct {
	args []string
	env  map[string]string
	file string
}

// load runs ParseArgs and Load on in. A config file is written to a
// temporary directory and passed with NOEX_CONFIG unless args or env name
// one already.
func load(t *testing.T, in input) (Settings, string, error) {
	t.Helper()
	env := map[string]string{}
	for k, v := range in.env {
		env[k] = v
	}
	path := ""
	if in.file != "" {
		path = filepath.Join(t.TempDir(), "noex.json")
		if err := os.WriteFile(path, []byte(in.file), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, ok := env["NOEX_CONFIG"]; !ok {
			env["NOEX_CONFIG"] = path
		}
	}
	a, err := ParseArgs(in.args)
	if err != nil {
		t.Fatalf("ParseArgs(%q): %v", in.args, err)
	}
	s, err := Load(a, func(k string) string { return env[k] })
	return s, path, err
}

func mustLoad(t *testing.T, in input) Settings {
	t.Helper()
	s, _, err := load(t, in)
	if err != nil {
		t.Fatalf("Load(%+v): unexpected error:\n%v", in, err)
	}
	return s
}

// problems returns the messages of a *ValidationError.
func problems(t *testing.T, err error) []string {
	t.Helper()
	var v *ValidationError
	if !errors.As(err, &v) {
		t.Fatalf("error %v (%T), want *ValidationError", err, err)
	}
	return v.Problems
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	s := mustLoad(t, input{})
	want := DefaultSettings()
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", s, want)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"persistence", s.Persistence, "file"},
		{"dataDir", s.DataDir, "./data"},
		{"db", s.DB, "./noex.db"},
		{"port", s.Server.Port, 8080},
		{"host", s.Server.Host, "0.0.0.0"},
		{"rules", s.Rules, true},
		{"auth", s.Auth, false},
		{"audit", s.Audit, false},
		{"details hidden", s.Server.HideErrorDetails, false},
		{"origins", s.Server.AllowedOrigins == nil, true},
		{"rate limit", s.Server.RateLimit == nil, true},
		{"grace", s.Server.ShutdownGracePeriod, time.Duration(0)},
		{"slow consumer", s.Server.Backpressure.SlowConsumerTimeout, 30 * time.Second},
		{"metrics addr", s.Server.MetricsAddr, ""},
		{"log", s.LogFormat + "/" + s.LogLevel, "text/info"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("default %s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestEverySource checks that every option is read from its flag, its
// environment variable and its config file key, with the same result.
func TestEverySource(t *testing.T) {
	t.Parallel()
	// text is the flag/variable value ("" for a switch); file is the JSON
	// value of the file key.
	samples := map[string]struct{ text, file string }{
		"port":                     {"3000", `3000`},
		"host":                     {"127.0.0.1", `"127.0.0.1"`},
		"name":                     {"east-1", `"east-1"`},
		"path":                     {"/ws", `"/ws"`},
		"persistence":              {"sqlite", `"sqlite"`},
		"data-dir":                 {"/var/lib/noex", `"/var/lib/noex"`},
		"db":                       {"/var/lib/noex.db", `"/var/lib/noex.db"`},
		"auth":                     {"", `true`},
		"admin-secret":             {"other", `"other"`},
		"no-rules":                 {"", `false`},
		"audit":                    {"", `true`},
		"no-error-details":         {"", `false`},
		"allowed-origins":          {"https://a.example, https://b.example", `["https://a.example","https://b.example"]`},
		"max-connections-per-ip":   {"7", `7`},
		"max-payload-bytes":        {"2048", `2048`},
		"shutdown-grace-ms":        {"1500", `1500`},
		"metrics-addr":             {"127.0.0.1:9100", `"127.0.0.1:9100"`},
		"log-format":               {"json", `"json"`},
		"log-level":                {"debug", `"debug"`},
		"slow-consumer-timeout-ms": {"2500", `2500`},
		"jwt-algorithm":            {"RS256", `"RS256"`},
		"jwt-secret":               {"s3cret", `"s3cret"`},
		"jwt-public-key-file":      {"/etc/noex/jwt.pem", `"/etc/noex/jwt.pem"`},
		"jwt-jwks-file":            {"/etc/noex/jwks.json", `"/etc/noex/jwks.json"`},
		"jwt-issuer":               {"https://issuer.example", `"https://issuer.example"`},
		"jwt-audience":             {"noex", `"noex"`},
		"jwt-optional":             {"", `true`},
	}
	for i := range keys {
		st := &keys[i]
		if st.flag == "" || st.flag == "config" {
			continue
		}
		sample, ok := samples[st.flag]
		if !ok {
			t.Errorf("--%s has no sample in TestEverySource", st.flag)
			continue
		}
		t.Run(st.flag, func(t *testing.T) {
			t.Parallel()
			// Every run has an admin secret so that --auth validates.
			base := []string{"--admin-secret", "s"}
			if st.flag == "admin-secret" {
				base = nil
			}
			args := append(slices.Clone(base), "--"+st.flag)
			envText := "true"
			if !st.switchFlag() {
				args = append(args, sample.text)
				envText = sample.text
			}
			fromFlag := mustLoad(t, input{args: args})
			fromEnv := mustLoad(t, input{args: base, env: map[string]string{st.envName(): envText}})
			fileSettings, _, err := load(t, input{args: base, file: nested(st.key, sample.file)})
			if err != nil {
				t.Fatalf("from file: %v", err)
			}
			fileSettings.ConfigFile = ""

			def := mustLoad(t, input{args: base})
			if reflect.DeepEqual(fromFlag, def) {
				t.Fatalf("--%s %s changed nothing", st.flag, sample.text)
			}
			if !reflect.DeepEqual(fromEnv, fromFlag) {
				t.Errorf("%s=%s:\n got %+v\nwant %+v", st.envName(), envText, fromEnv, fromFlag)
			}
			if !reflect.DeepEqual(fileSettings, fromFlag) {
				t.Errorf("file %s=%s:\n got %+v\nwant %+v", st.key, sample.file, fileSettings, fromFlag)
			}
		})
	}
}

// nested builds a JSON object holding raw at a dotted key.
func nested(key, raw string) string {
	parts := strings.Split(key, ".")
	out := raw
	for i := len(parts) - 1; i >= 0; i-- {
		name, _ := json.Marshal(parts[i])
		out = "{" + string(name) + ":" + out + "}"
	}
	return out
}

func TestFlagValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want func(*Settings)
	}{
		{[]string{"--port=0"}, func(s *Settings) { s.Server.Port = 0 }},
		{[]string{"--port", "65535"}, func(s *Settings) { s.Server.Port = 65535 }},
		{[]string{"--port", " 42 "}, func(s *Settings) { s.Server.Port = 42 }},
		{[]string{"--port", "0x1F90"}, func(s *Settings) { s.Server.Port = 8080 }},
		{[]string{"--port", "8e3"}, func(s *Settings) { s.Server.Port = 8000 }},
		{[]string{"--port", "3000.0"}, func(s *Settings) { s.Server.Port = 3000 }},
		{[]string{"--port=-0"}, func(s *Settings) { s.Server.Port = 0 }},
		{[]string{"-H", "::1"}, func(s *Settings) { s.Server.Host = "::1" }},
		{[]string{"--persistence", "memory"}, func(s *Settings) { s.Persistence = "memory" }},
		{[]string{"--persistence", "file", "--data-dir", "/d"}, func(s *Settings) { s.DataDir = "/d" }},
		{[]string{"--allowed-origins", " a , b ,,c "}, func(s *Settings) { s.Server.AllowedOrigins = []string{"a", "b", "", "c"} }},
		{[]string{"--allowed-origins="}, func(s *Settings) { s.Server.AllowedOrigins = []string{""} }},
		{[]string{"--metrics-addr", ":9100"}, func(s *Settings) { s.Server.MetricsAddr = ":9100" }},
		{[]string{"--metrics-addr", "[::1]:9100"}, func(s *Settings) { s.Server.MetricsAddr = "[::1]:9100" }},
		{[]string{"--shutdown-grace-ms", "0"}, func(s *Settings) {}},
		{[]string{"--admin-secret="}, func(s *Settings) {}},
		{[]string{"--auth", "--admin-secret=-x"}, func(s *Settings) { s.Auth = true; s.AdminSecret = "-x" }},
	}
	for _, tt := range tests {
		got := mustLoad(t, input{args: tt.args})
		want := DefaultSettings()
		tt.want(&want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tt.args, got, want)
		}
	}
}

func TestPrecedence(t *testing.T) {
	t.Parallel()
	const file = `{"port": 1111, "host": "127.0.0.2", "rules": false, "exposeErrorDetails": true,
		"allowedOrigins": ["https://file.example", "https://other.example"], "name": "from-file",
		"backpressure": {"slowConsumerTimeoutMs": 5000}, "audit": false}`
	tests := []struct {
		name  string
		in    input
		check func(s Settings) (got, want any)
	}{
		{"file over default", input{file: file},
			func(s Settings) (any, any) { return s.Server.Port, 1111 }},
		{"env over file", input{file: file, env: map[string]string{"NOEX_PORT": "2222"}},
			func(s Settings) (any, any) { return s.Server.Port, 2222 }},
		{"flag over env", input{file: file, env: map[string]string{"NOEX_PORT": "2222"}, args: []string{"-p", "3333"}},
			func(s Settings) (any, any) { return s.Server.Port, 3333 }},
		{"flag over file", input{file: file, args: []string{"--port=3333"}},
			func(s Settings) (any, any) { return s.Server.Port, 3333 }},
		{"untouched file value kept", input{file: file, args: []string{"--port=3333"}},
			func(s Settings) (any, any) { return s.Server.Name, "from-file" }},
		{"file rules false", input{file: file},
			func(s Settings) (any, any) { return s.Rules, false }},
		{"NOEX_NO_RULES=false is unset", input{file: file, env: map[string]string{"NOEX_NO_RULES": "false"}},
			func(s Settings) (any, any) { return s.Rules, false }},
		{"NOEX_NO_RULES=0 is unset", input{env: map[string]string{"NOEX_NO_RULES": "0"}},
			func(s Settings) (any, any) { return s.Rules, true }},
		{"NOEX_NO_RULES=1", input{env: map[string]string{"NOEX_NO_RULES": "1"}},
			func(s Settings) (any, any) { return s.Rules, false }},
		{"NOEX_NO_RULES=TRUE", input{env: map[string]string{"NOEX_NO_RULES": "TRUE"}},
			func(s Settings) (any, any) { return s.Rules, false }},
		{"file rules true, --no-rules", input{file: `{"rules": true}`, args: []string{"--no-rules"}},
			func(s Settings) (any, any) { return s.Rules, false }},
		{"--no-error-details beats file", input{file: file, args: []string{"--no-error-details"}},
			func(s Settings) (any, any) { return s.Server.HideErrorDetails, true }},
		{"NOEX_NO_ERROR_DETAILS beats file", input{file: file, env: map[string]string{"NOEX_NO_ERROR_DETAILS": "true"}},
			func(s Settings) (any, any) { return s.Server.HideErrorDetails, true }},
		{"file hides details", input{file: `{"exposeErrorDetails": false}`},
			func(s Settings) (any, any) { return s.Server.HideErrorDetails, true }},
		{"--allowed-origins replaces the file's list", input{file: file, args: []string{"--allowed-origins", "https://flag.example"}},
			func(s Settings) (any, any) { return s.Server.AllowedOrigins, []string{"https://flag.example"} }},
		{"NOEX_ALLOWED_ORIGINS replaces the file's list", input{file: file, env: map[string]string{"NOEX_ALLOWED_ORIGINS": "x,y"}},
			func(s Settings) (any, any) { return s.Server.AllowedOrigins, []string{"x", "y"} }},
		{"file origins", input{file: file},
			func(s Settings) (any, any) {
				return s.Server.AllowedOrigins, []string{"https://file.example", "https://other.example"}
			}},
		{"slow consumer flag over file member", input{file: file, args: []string{"--slow-consumer-timeout-ms", "7000"}},
			func(s Settings) (any, any) { return s.Server.Backpressure.SlowConsumerTimeout, 7 * time.Second }},
		{"slow consumer file member", input{file: file},
			func(s Settings) (any, any) { return s.Server.Backpressure.SlowConsumerTimeout, 5 * time.Second }},
		{"other backpressure members keep defaults", input{file: file},
			func(s Settings) (any, any) {
				return s.Server.Backpressure.MaxBufferedBytes, noex.DefaultMaxBufferedBytes
			}},
		{"empty variable is unset", input{file: file, env: map[string]string{"NOEX_PORT": "", "NOEX_HOST": ""}},
			func(s Settings) (any, any) { return s.Server.Host, "127.0.0.2" }},
		{"NOEX_CONFIG names the file", input{file: file},
			func(s Settings) (any, any) { return s.ConfigFile != "", true }},
		{"host from env", input{env: map[string]string{"NOEX_HOST": "::1"}},
			func(s Settings) (any, any) { return s.Server.Host, "::1" }},
		{"log format from env", input{env: map[string]string{"NOEX_LOG_FORMAT": "json"}},
			func(s Settings) (any, any) { return s.LogFormat, "json" }},
		{"max connections from env", input{env: map[string]string{"NOEX_MAX_CONNECTIONS_PER_IP": "3"}},
			func(s Settings) (any, any) { return s.Server.MaxConnectionsPerIP, 3 }},
		{"auth from env with secret from file", input{file: `{"adminSecret": "f"}`, env: map[string]string{"NOEX_AUTH": "1"}},
			func(s Settings) (any, any) { return s.Auth && s.AdminSecret == "f", true }},
		{"null file value is absent", input{file: `{"port": null, "heartbeat": null}`},
			func(s Settings) (any, any) { return s.Server.Port, 8080 }},
		{"unknown keys ignored", input{file: `{"bogus": 1, "heartbeat": {"bogus": "x"}, "store": {}}`},
			func(s Settings) (any, any) { return s.Server.Heartbeat, noex.DefaultConfig().Heartbeat }},
		{"partial heartbeat keeps the default timeout", input{file: `{"heartbeat": {"intervalMs": 5000}}`},
			func(s Settings) (any, any) {
				return s.Server.Heartbeat, noex.Heartbeat{Interval: 5 * time.Second, Timeout: noex.DefaultHeartbeatTimeout}
			}},
		{"full heartbeat", input{file: `{"heartbeat": {"intervalMs": 5000, "timeoutMs": 2000}}`},
			func(s Settings) (any, any) {
				return s.Server.Heartbeat, noex.Heartbeat{Interval: 5 * time.Second, Timeout: 2 * time.Second}
			}},
		{"backpressure", input{file: `{"backpressure": {"maxBufferedBytes": 4096, "highWaterMark": 0.5}}`},
			func(s Settings) (any, any) {
				return s.Server.Backpressure, noex.Backpressure{MaxBufferedBytes: 4096, HighWaterMark: 0.5,
					SlowConsumerTimeout: noex.DefaultSlowConsumerTimeout}
			}},
		{"connectionLimits merged key by key", input{file: `{"connectionLimits": {"maxSubscriptionsPerConnection": 50}}`},
			func(s Settings) (any, any) {
				return s.Server.ConnectionLimits, noex.ConnectionLimits{MaxSubscriptionsPerConnection: 50,
					MaxTotalSubscriptions: noex.DefaultMaxTotalSubscriptions}
			}},
		{"rateLimit", input{file: `{"rateLimit": {"maxRequests": 200, "windowMs": 60000}}`},
			func(s Settings) (any, any) {
				return *s.Server.RateLimit, noex.RateLimit{MaxRequests: 200, Window: time.Minute}
			}},
		{"the reference's example file", input{file: `{"port": 9090, "host": "127.0.0.1", "persistence": "sqlite",
			"db": "./app.db", "auth": true, "adminSecret": "change-me", "audit": true,
			"rateLimit": {"maxRequests": 200, "windowMs": 60000}, "heartbeat": {"intervalMs": 15000, "timeoutMs": 5000},
			"connectionLimits": {"maxSubscriptionsPerConnection": 50}, "allowedOrigins": ["https://app.example.com"],
			"maxConnectionsPerIp": 20}`},
			func(s Settings) (any, any) {
				return []any{s.Server.Port, s.Server.Host, s.Persistence, s.DB, s.Auth, s.AdminSecret, s.Audit,
						s.Server.MaxConnectionsPerIP, s.Server.AllowedOrigins[0]},
					[]any{9090, "127.0.0.1", "sqlite", "./app.db", true, "change-me", true, 20, "https://app.example.com"}
			}},
		{"JSON numbers written as floats", input{file: `{"port": 3000.0, "maxPayloadBytes": 1e3}`},
			func(s Settings) (any, any) { return []int{s.Server.Port, s.Server.MaxPayloadBytes}, []int{3000, 1000} }},
		{"duplicate keys: last wins", input{file: `{"port": 1, "port": 2}`},
			func(s Settings) (any, any) { return s.Server.Port, 2 }},
		{"--config over NOEX_CONFIG", input{file: file, args: []string{"--config", "testdata/empty.json"}},
			func(s Settings) (any, any) { return s.Server.Port, 8080 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, want := tt.check(mustLoad(t, tt.in))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestValidationErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   input
		want []string
	}{
		// The reference's three messages.
		{"port NaN", input{args: []string{"--port", "abc"}}, []string{"Invalid port: NaN (must be integer 0-65535)"}},
		{"port empty", input{args: []string{"--port="}}, []string{"Invalid port: NaN (must be integer 0-65535)"}},
		{"port fraction", input{args: []string{"--port", "80.5"}}, []string{"Invalid port: 80.5 (must be integer 0-65535)"}},
		{"port negative", input{args: []string{"--port=-5"}}, []string{"Invalid port: -5 (must be integer 0-65535)"}},
		{"port too big", input{args: []string{"-p", "65536"}}, []string{"Invalid port: 65536 (must be integer 0-65535)"}},
		{"port huge", input{args: []string{"-p", "1e21"}}, []string{"Invalid port: 1e+21 (must be integer 0-65535)"}},
		{"port Infinity", input{args: []string{"-p", "Infinity"}}, []string{"Invalid port: Infinity (must be integer 0-65535)"}},
		{"port string in file", input{file: `{"port": "8080"}`}, []string{"Invalid port: 8080 (must be integer 0-65535)"}},
		{"port bool in file", input{file: `{"port": true}`}, []string{"Invalid port: true (must be integer 0-65535)"}},
		{"port object in file", input{file: `{"port": {}}`}, []string{"Invalid port: [object Object] (must be integer 0-65535)"}},
		{"port array in file", input{file: `{"port": [80, null, "x"]}`}, []string{"Invalid port: 80,,x (must be integer 0-65535)"}},
		{"port fraction in file", input{file: `{"port": 80.5}`}, []string{"Invalid port: 80.5 (must be integer 0-65535)"}},
		{"port from env", input{env: map[string]string{"NOEX_PORT": "abc"}}, []string{"Invalid NOEX_PORT: abc (must be integer 0-65535)"}},
		{"auth without secret", input{args: []string{"--auth"}}, []string{"--admin-secret is required when --auth is enabled"}},
		{"auth with empty secret", input{args: []string{"--auth", "--admin-secret="}}, []string{"--admin-secret is required when --auth is enabled"}},
		{"auth in file without secret", input{file: `{"auth": true}`}, []string{"--admin-secret is required when --auth is enabled"}},
		{"unknown persistence", input{args: []string{"--persistence", "disk"}},
			[]string{"Unknown persistence type: disk (must be memory, file, or sqlite)"}},
		{"unknown persistence in file", input{file: `{"persistence": 5}`},
			[]string{"Unknown persistence type: 5 (must be memory, file, or sqlite)"}},
		{"unknown persistence in env", input{env: map[string]string{"NOEX_PERSISTENCE": "Memory"}},
			[]string{"Unknown persistence type in NOEX_PERSISTENCE: Memory (must be memory, file, or sqlite)"}},
		{"all at once", input{args: []string{"--port", "x", "--auth", "--persistence", "y"}}, []string{
			"Invalid port: NaN (must be integer 0-65535)",
			"Unknown persistence type: y (must be memory, file, or sqlite)",
			"--admin-secret is required when --auth is enabled",
		}},

		// Deliberately stricter than the reference (COMPATIBILITY.md P§11 #35).
		{"max connections NaN", input{args: []string{"--max-connections-per-ip", "abc"}},
			[]string{"Invalid --max-connections-per-ip: abc (must be a positive integer)"}},
		{"max connections zero", input{args: []string{"--max-connections-per-ip", "0"}},
			[]string{"Invalid --max-connections-per-ip: 0 (must be a positive integer)"}},
		{"max connections negative", input{args: []string{"--max-connections-per-ip=-1"}},
			[]string{"Invalid --max-connections-per-ip: -1 (must be a positive integer)"}},
		{"max connections fraction", input{args: []string{"--max-connections-per-ip", "2.5"}},
			[]string{"Invalid --max-connections-per-ip: 2.5 (must be a positive integer)"}},
		{"max connections env", input{env: map[string]string{"NOEX_MAX_CONNECTIONS_PER_IP": "many"}},
			[]string{"Invalid NOEX_MAX_CONNECTIONS_PER_IP: many (must be a positive integer)"}},
		{"max connections file", input{file: `{"maxConnectionsPerIp": "20"}`},
			[]string{`Invalid maxConnectionsPerIp: "20" (must be a positive integer)`}},
		{"switch env", input{env: map[string]string{"NOEX_AUDIT": "yes"}},
			[]string{"Invalid NOEX_AUDIT: yes (must be true, 1, false or 0)"}},
		{"switch file", input{file: `{"rules": "false"}`},
			[]string{`Invalid rules: "false" (must be true or false)`}},
		{"exposeErrorDetails file", input{file: `{"exposeErrorDetails": 0}`},
			[]string{`Invalid exposeErrorDetails: 0 (must be true or false)`}},
		{"empty host", input{args: []string{"--host="}}, []string{"Invalid --host:  (must be an address)"}},
		{"host not a string", input{file: `{"host": 127}`}, []string{"Invalid host: 127 (must be an address)"}},
		{"empty name", input{args: []string{"--name="}}, []string{"Invalid --name:  (must be a non-empty string)"}},
		{"empty config", input{args: []string{"--config="}}, []string{"Invalid --config:  (must be a path)"}},
		{"empty data dir", input{file: `{"dataDir": ""}`}, []string{`Invalid dataDir: "" (must be a path)`}},
		{"db not a string", input{env: map[string]string{"NOEX_DB": ""}, file: `{"db": false}`}, []string{`Invalid db: false (must be a path)`}},
		{"admin secret not a string", input{file: `{"adminSecret": 1}`}, []string{`Invalid adminSecret: 1 (must be a string)`}},
		{"path", input{args: []string{"--path", "ws"}}, []string{"Invalid --path: ws (must be a path starting with /)"}},
		{"origins not a list", input{file: `{"allowedOrigins": "https://a.example"}`},
			[]string{`Invalid allowedOrigins: "https://a.example" (must be an array of strings)`}},
		{"origins not strings", input{file: `{"allowedOrigins": ["a", 1]}`},
			[]string{`Invalid allowedOrigins: ["a",1] (must be an array of strings)`}},
		{"payload", input{args: []string{"--max-payload-bytes", "1k"}},
			[]string{"Invalid --max-payload-bytes: 1k (must be a positive integer)"}},
		{"grace negative", input{args: []string{"--shutdown-grace-ms=-1"}},
			[]string{"Invalid --shutdown-grace-ms: -1 (must be an integer >= 0 (milliseconds))"}},
		{"grace fraction in file", input{file: `{"shutdownGracePeriodMs": 1.5}`},
			[]string{"Invalid shutdownGracePeriodMs: 1.5 (must be an integer >= 0 (milliseconds))"}},
		{"slow consumer zero", input{args: []string{"--slow-consumer-timeout-ms", "0"}},
			[]string{"Invalid --slow-consumer-timeout-ms: 0 (must be a positive integer (milliseconds))"}},
		{"slow consumer overflow", input{args: []string{"--slow-consumer-timeout-ms", "1e300"}},
			[]string{"Invalid --slow-consumer-timeout-ms: 1e300 (must be a positive integer (milliseconds))"}},
		{"metrics addr", input{args: []string{"--metrics-addr", "9100"}},
			[]string{"Invalid --metrics-addr: 9100 (must be host:port, e.g. 127.0.0.1:9100 or :9100)"}},
		{"metrics addr port", input{env: map[string]string{"NOEX_METRICS_ADDR": "localhost:http"}},
			[]string{"Invalid NOEX_METRICS_ADDR: localhost:http (must be host:port, e.g. 127.0.0.1:9100 or :9100)"}},
		{"log format", input{args: []string{"--log-format", "logfmt"}},
			[]string{"Invalid --log-format: logfmt (must be one of text, json)"}},
		{"log level", input{env: map[string]string{"NOEX_LOG_LEVEL": "verbose"}},
			[]string{"Invalid NOEX_LOG_LEVEL: verbose (must be one of debug, info, warn, error)"}},
		{"rateLimit not an object", input{file: `{"rateLimit": true}`},
			[]string{"Invalid rateLimit: true (must be an object)"}},
		{"rateLimit missing members", input{file: `{"rateLimit": {}}`}, []string{
			"Missing rateLimit.maxRequests (rateLimit needs both maxRequests and windowMs)",
			"Missing rateLimit.windowMs (rateLimit needs both maxRequests and windowMs)",
		}},
		{"rateLimit bad members", input{file: `{"rateLimit": {"maxRequests": 0, "windowMs": "1s"}}`}, []string{
			"Invalid rateLimit.maxRequests: 0 (must be a positive integer)",
			`Invalid rateLimit.windowMs: "1s" (must be a positive integer (milliseconds))`,
		}},
		{"heartbeat not an object", input{file: `{"heartbeat": [1]}`}, []string{"Invalid heartbeat: [1] (must be an object)"}},
		{"heartbeat members", input{file: `{"heartbeat": {"intervalMs": 0, "timeoutMs": -1}}`}, []string{
			"Invalid heartbeat.intervalMs: 0 (must be a positive integer (milliseconds))",
			"Invalid heartbeat.timeoutMs: -1 (must be a positive integer (milliseconds))",
		}},
		{"backpressure members", input{file: `{"backpressure": {"maxBufferedBytes": 0, "highWaterMark": 1.5}}`}, []string{
			"Invalid backpressure.maxBufferedBytes: 0 (must be a positive integer)",
			"Invalid backpressure.highWaterMark: 1.5 (must be a number greater than 0 and at most 1)",
		}},
		{"backpressure object", input{file: `{"backpressure": "big"}`}, []string{`Invalid backpressure: "big" (must be an object)`}},
		{"connectionLimits members", input{file: `{"connectionLimits": {"maxTotalSubscriptions": 1.5}}`},
			[]string{"Invalid connectionLimits.maxTotalSubscriptions: 1.5 (must be a positive integer)"}},
		{"empty JWKS file", input{args: []string{"--jwt-jwks-file="}}, []string{"Invalid --jwt-jwks-file:  (must be a path)"}},
		{"JWKS file not a string", input{file: `{"jwt": {"jwksFile": ["a"]}}`}, []string{`Invalid jwt.jwksFile: ["a"] (must be a path)`}},
		{"JWKS file and public key", input{args: []string{"--jwt-algorithm", "RS256", "--jwt-jwks-file", "k.json", "--jwt-public-key-file", "k.pem"}},
			[]string{"jwt.jwksFile (--jwt-jwks-file) and jwt.publicKeyFile (--jwt-public-key-file) cannot both be set"}},
		{"JWKS file and secret", input{env: map[string]string{"NOEX_JWT_SECRET": "s"}, file: `{"jwt": {"algorithm": "HS256", "jwksFile": "k.json"}}`},
			[]string{"jwt.jwksFile (--jwt-jwks-file) and jwt.secret (--jwt-secret) cannot both be set"}},
		{"JWKS file, public key and secret", input{file: `{"jwt": {"jwksFile": "k.json", "publicKeyFile": "k.pem", "secret": "s"}}`}, []string{
			"jwt.jwksFile (--jwt-jwks-file) and jwt.publicKeyFile (--jwt-public-key-file) cannot both be set",
			"jwt.jwksFile (--jwt-jwks-file) and jwt.secret (--jwt-secret) cannot both be set",
		}},
		{"a flag hides an invalid file value", input{file: `{"port": "8080"}`, args: []string{"--port", "1"}}, nil},
		{"a flag hides an invalid variable", input{env: map[string]string{"NOEX_PORT": "x"}, args: []string{"--port", "1"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := load(t, tt.in)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if got := problems(t, err); !slices.Equal(got, tt.want) {
				t.Errorf("problems\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestFileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file, want string
	}{
		{"not JSON", "{\n  \"port\": 80,\n  oops\n}", "invalid character 'o' looking for beginning of object key string (line 3, column 3)"},
		{"truncated", `{"port": 80`, "unexpected end of JSON input"},
		{"empty", " \n", "the file is empty"},
		{"array", `[1, 2]`, "the configuration must be a JSON object"},
		{"string", `"port"`, "the configuration must be a JSON object"},
		{"trailing data", `{} {}`, "unexpected data after the JSON value (line 1, column 4)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, path, err := load(t, input{file: tt.file})
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T), want *FileError", err, err)
			}
			if want := path + ": " + tt.want; fe.Err.Error() != want {
				t.Errorf("message\n got %q\nwant %q", fe.Err.Error(), want)
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "absent.json")
		_, _, err := load(t, input{args: []string{"--config", path}})
		var fe *FileError
		if !errors.As(err, &fe) || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("error %v, want a *FileError wrapping os.ErrNotExist", err)
		}
		if want := "open " + path + ": no such file or directory"; fe.Err.Error() != want {
			t.Errorf("message %q, want %q", fe.Err.Error(), want)
		}
	})
}

// TestServerConfig checks the mapping of settings onto noex.Config.
func TestServerConfig(t *testing.T) {
	t.Parallel()
	s := mustLoad(t, input{args: []string{
		"--port", "9000", "--host", "127.0.0.1", "--name", "n", "--path", "/ws", "--max-payload-bytes", "100",
		"--no-error-details", "--allowed-origins", "https://a", "--max-connections-per-ip", "4",
		"--shutdown-grace-ms", "1500", "--slow-consumer-timeout-ms", "100", "--metrics-addr", ":9100",
	}, file: `{"rateLimit": {"maxRequests": 5, "windowMs": 1000}}`})
	cfg := s.ServerConfig(nil)
	want := noex.DefaultConfig()
	want.Port, want.Host, want.Name, want.Path, want.MaxPayloadBytes = 9000, "127.0.0.1", "n", "/ws", 100
	want.HideErrorDetails, want.AllowedOrigins, want.MaxConnectionsPerIP = true, []string{"https://a"}, 4
	want.ShutdownGracePeriod, want.Backpressure.SlowConsumerTimeout, want.MetricsAddr = 1500*time.Millisecond, 100*time.Millisecond, ":9100"
	want.RateLimit = &noex.RateLimit{MaxRequests: 5, Window: time.Second}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("ServerConfig:\n got %+v\nwant %+v", cfg, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}
