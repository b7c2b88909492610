package cli

import (
	"strings"
)

// ValidationError lists every invalid setting, one message each.
type ValidationError struct{ Problems []string }

func (e *ValidationError) Error() string { return strings.Join(e.Problems, "\n") }

// Load merges defaults, the config file, the environment and the parsed
// command line into the effective settings, and validates them. For each
// setting the command line wins over the environment, which wins over the
// file, which wins over the default; only the winning value is checked.
//
// The errors are *FileError when the config file cannot be used and
// *ValidationError listing every invalid setting otherwise.
func Load(a Args, getenv func(string) string) (Settings, error) {
	s := DefaultSettings()
	env := envValues(getenv)
	var problems []string
	pick := func(st *setting, file map[*setting]value) (value, bool) {
		if v, ok := a.values[st]; ok {
			return v, true
		}
		if v, ok := env[st]; ok {
			return v, true
		}
		v, ok := file[st]
		return v, ok
	}

	// The file's path comes first: the file is one of the sources.
	configRow := flagByLong("config")
	var file map[*setting]value
	if v, ok := pick(configRow, nil); ok {
		if err := configRow.apply(&s, v); err != nil {
			problems = append(problems, err.Error())
		} else {
			doc, err := readConfigFile(s.ConfigFile)
			if err != nil {
				return s, err
			}
			file = fileValues(doc)
		}
	}

	given := make(map[*setting]bool)
	for i := range keys {
		st := &keys[i]
		if st == configRow {
			continue
		}
		v, ok := pick(st, file)
		if !ok {
			continue
		}
		given[st] = true
		if err := st.apply(&s, v); err != nil {
			problems = append(problems, err.Error())
		}
	}
	problems = append(problems, crossCheck(s, given)...)

	// The server's own validation catches what the table does not know.
	if len(problems) == 0 {
		if err := s.ServerConfig(nil).Validate(); err != nil {
			problems = append(problems, strings.Split(err.Error(), "\n")...)
		}
	}
	if len(problems) > 0 {
		return s, &ValidationError{Problems: problems}
	}
	return s, nil
}

// crossCheck validates settings that depend on each other.
func crossCheck(s Settings, given map[*setting]bool) []string {
	var problems []string
	if s.Auth && s.AdminSecret == "" {
		problems = append(problems, "--admin-secret is required when --auth is enabled")
	}
	if s.Auth && s.JWT.Algorithm != "" {
		problems = append(problems, "--auth (built-in identity) and JWT auth cannot both be on")
	}
	if s.JWT.JWKSFile != "" {
		if s.JWT.PublicKeyFile != "" {
			problems = append(problems, "jwt.jwksFile (--jwt-jwks-file) and jwt.publicKeyFile (--jwt-public-key-file) cannot both be set")
		}
		if s.JWT.Secret != "" {
			problems = append(problems, "jwt.jwksFile (--jwt-jwks-file) and jwt.secret (--jwt-secret) cannot both be set")
		}
	}
	if s.Server.RateLimit != nil {
		for _, member := range []string{"rateLimit.maxRequests", "rateLimit.windowMs"} {
			if !given[lookupKey(member)] {
				problems = append(problems, "Missing "+member+" (rateLimit needs both maxRequests and windowMs)")
			}
		}
	}
	return problems
}

// envValues reads the variable of every option. An empty variable counts
// as unset, and so does a switch's variable set to false or 0: like the
// switch itself, it can only turn its setting one way.
func envValues(getenv func(string) string) map[*setting]value {
	out := make(map[*setting]value)
	if getenv == nil {
		return out
	}
	for i := range keys {
		st := &keys[i]
		name := st.envName()
		if name == "" {
			continue
		}
		text := getenv(name)
		if text == "" || (st.switchFlag() && envFalse(text)) {
			continue
		}
		out[st] = value{src: fromEnv, name: name, text: text}
	}
	return out
}
