// Package config is the resolved configuration of one run: every field
// explicit, defaults filled in, specs normalized. It holds the types
// (Config, DataSpec), their canonical JSON and keys, the setting key (the
// configuration without its seed, which statistics over seeds group by),
// labels, the axes a grid can vary, the facts of each dataset and the
// validation of a resolved Config, DP-SGD's fields among them (σ solved for
// a target ε by privacy).
//
// Package grid turns an experiment file into []Config; train, db, report
// and the worker read Config and never the YAML. config imports the spec
// types of nn, clipalgo, data and compress, and privacy's σ solver, only.
//
// # Layers
//
// The packages of cliplab and the way their imports point (an arrow from a
// package to the ones that import it; nothing imports a package above it,
// and layers_test.go checks every import against this picture):
//
//	tensor, record                      shared vocabulary (parameter roles; status, steps, evals)
//	nn, clipalgo, data, privacy         the engine, the clipping methods, the datasets, DP accounting
//	compress                            pruning masks, quantisation, storage costs (imports nothing)
//	config → grid                       the resolved configuration; YAML into []config.Config
//	nn, clipalgo, data, privacy, config → train → worker → cmd/runner
//	config, record → db                 the database (the only SQLite importer)
//	db, config → report → cmd/report    the report's model and statistics; rendering in cmd
//	cmdflag → cmd/runner, cmd/report    command lines: flags in any position, errors once
//
// # Keys
//
// Canonical is encoding/json of Config: fields in struct order, numbers in
// their shortest round-trip form, no whitespace; clipalgo.Spec writes itself
// (method, threshold, options in declaration order). Key is the hex SHA-256
// of Canonical. A run key never changes for an existing configuration: a
// field added later is omitted from the JSON while it holds its default, so
// that old keys stay as they were (grid's TestKeysPinned holds the keys of
// experiments/ and of fixtures covering every method, optimizer and arch).
package config
