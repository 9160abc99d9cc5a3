-- Baton's schema before migrations (release 0.2.0, made by create_all), for postgresql.

CREATE TABLE decision_ledger (
	id SERIAL NOT NULL,
	decision_id VARCHAR(300) NOT NULL,
	process_id VARCHAR(300) NOT NULL,
	step VARCHAR(200) NOT NULL,
	actor_kind VARCHAR(20) NOT NULL,
	actor VARCHAR(200) NOT NULL,
	outcome VARCHAR(100) NOT NULL,
	comment VARCHAR NOT NULL,
	confidence FLOAT,
	data JSON NOT NULL,
	applied BOOLEAN NOT NULL,
	reason VARCHAR NOT NULL,
	decided_at TIMESTAMP WITH TIME ZONE NOT NULL,
	seq INTEGER,
	prev_hash VARCHAR(64),
	row_hash VARCHAR(64),
	PRIMARY KEY (id),
	UNIQUE (decision_id)
);

CREATE INDEX ix_decision_ledger_process_id ON decision_ledger (process_id);

CREATE UNIQUE INDEX ux_decision_ledger_chain ON decision_ledger (process_id, seq);

CREATE TABLE decision_ledger_heads (
	process_id VARCHAR(300) NOT NULL,
	seq INTEGER NOT NULL,
	row_hash VARCHAR(64) NOT NULL,
	PRIMARY KEY (process_id)
);

CREATE TABLE human_tasks (
	status VARCHAR NOT NULL,
	process_type VARCHAR(100) NOT NULL,
	escalation_level INTEGER NOT NULL,
	escalated BOOLEAN NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	due_key TIMESTAMP WITH TIME ZONE NOT NULL,
	priority_key INTEGER NOT NULL,
	task_id VARCHAR(300) NOT NULL,
	process_id VARCHAR(300) NOT NULL,
	name VARCHAR(100) NOT NULL,
	kind VARCHAR(50) NOT NULL,
	title VARCHAR NOT NULL,
	description VARCHAR NOT NULL,
	form JSON NOT NULL,
	context JSON NOT NULL,
	candidate_roles JSON NOT NULL,
	assignee VARCHAR,
	requester VARCHAR,
	priority VARCHAR(20) NOT NULL,
	outcome VARCHAR,
	approval_level INTEGER NOT NULL,
	due_at TIMESTAMP WITH TIME ZONE,
	closed_at TIMESTAMP WITH TIME ZONE,
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
	seq INTEGER NOT NULL,
	history JSON,
	PRIMARY KEY (task_id)
);

CREATE INDEX ix_human_tasks_assignee ON human_tasks (assignee);

CREATE INDEX ix_human_tasks_by_created ON human_tasks (status, escalated, created_at, task_id, due_key);

CREATE INDEX ix_human_tasks_by_due ON human_tasks (status, escalated, due_key, created_at, task_id);

CREATE INDEX ix_human_tasks_by_priority ON human_tasks (status, escalated, priority_key, created_at, task_id, due_key);

CREATE INDEX ix_human_tasks_of_type_by_created ON human_tasks (status, process_type, escalated, created_at, task_id, due_key);

CREATE INDEX ix_human_tasks_of_type_by_due ON human_tasks (status, process_type, escalated, due_key, created_at, task_id);

CREATE INDEX ix_human_tasks_of_type_by_priority ON human_tasks (status, process_type, escalated, priority_key, created_at, task_id, due_key);

CREATE INDEX ix_human_tasks_process_id ON human_tasks (process_id);

CREATE TABLE insight_cases (
	process_id VARCHAR(300) NOT NULL,
	process_type VARCHAR(100) NOT NULL,
	business_key VARCHAR(100) NOT NULL,
	requested_by VARCHAR(100) NOT NULL,
	priority VARCHAR(20) NOT NULL,
	status VARCHAR(20) NOT NULL,
	started_at TIMESTAMP WITH TIME ZONE NOT NULL,
	ended_at TIMESTAMP WITH TIME ZONE,
	cycle_seconds FLOAT,
	touch_seconds FLOAT NOT NULL,
	human_steps INTEGER NOT NULL,
	human_wait_seconds FLOAT NOT NULL,
	bot_calls INTEGER NOT NULL,
	ai_calls INTEGER NOT NULL,
	tokens INTEGER NOT NULL,
	human_minutes FLOAT NOT NULL,
	escalations INTEGER NOT NULL,
	expiries INTEGER NOT NULL,
	sla_breaches INTEGER NOT NULL,
	rework INTEGER NOT NULL,
	facts JSON NOT NULL,
	PRIMARY KEY (process_id)
);

CREATE INDEX ix_insight_cases_started_at ON insight_cases (started_at);

CREATE INDEX ix_insight_cases_type_started ON insight_cases (process_type, started_at);

CREATE TABLE insight_events (
	process_id VARCHAR(300) NOT NULL,
	seq INTEGER NOT NULL,
	process_type VARCHAR(100) NOT NULL,
	business_key VARCHAR(100) NOT NULL,
	activity VARCHAR(200) NOT NULL,
	step VARCHAR NOT NULL,
	stage VARCHAR(200) NOT NULL,
	actor_kind VARCHAR(20) NOT NULL,
	actor VARCHAR(300) NOT NULL,
	department VARCHAR(50) NOT NULL,
	role VARCHAR(50) NOT NULL,
	status VARCHAR(20) NOT NULL,
	outcome VARCHAR(200) NOT NULL,
	started_at TIMESTAMP WITH TIME ZONE NOT NULL,
	ended_at TIMESTAMP WITH TIME ZONE,
	objects JSON NOT NULL,
	bot_calls INTEGER NOT NULL,
	ai_calls INTEGER NOT NULL,
	tokens INTEGER NOT NULL,
	human_minutes FLOAT NOT NULL,
	confidence FLOAT,
	overridden BOOLEAN,
	due_at TIMESTAMP WITH TIME ZONE,
	escalations INTEGER NOT NULL,
	expired BOOLEAN NOT NULL,
	time_scale FLOAT NOT NULL,
	seconds FLOAT NOT NULL,
	sla_breached BOOLEAN NOT NULL,
	PRIMARY KEY (process_id, seq)
);

CREATE INDEX ix_insight_events_type_started ON insight_events (process_type, started_at);

CREATE TABLE robot_jobs (
	id VARCHAR(36) NOT NULL,
	pool VARCHAR(100) NOT NULL,
	kind VARCHAR(100) NOT NULL,
	title VARCHAR(200) NOT NULL,
	summary VARCHAR(2000) NOT NULL,
	payload JSON NOT NULL,
	status VARCHAR(20) NOT NULL,
	workflow_id VARCHAR(1000) NOT NULL,
	run_id VARCHAR(100) NOT NULL,
	activity_id VARCHAR(1000) NOT NULL,
	attempt INTEGER NOT NULL,
	task_token BYTEA NOT NULL,
	heartbeat_timeout_s FLOAT,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	taken_by VARCHAR(100),
	taken_at TIMESTAMP WITH TIME ZONE,
	heartbeat_at TIMESTAMP WITH TIME ZONE,
	closed_at TIMESTAMP WITH TIME ZONE,
	PRIMARY KEY (id)
);

CREATE INDEX ix_robot_jobs_offered ON robot_jobs (pool, status, created_at);

CREATE INDEX ix_robot_jobs_workflow_id ON robot_jobs (workflow_id);

CREATE TABLE users (
	id SERIAL NOT NULL,
	name VARCHAR(100) NOT NULL,
	roles JSON NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (id)
);

CREATE UNIQUE INDEX ix_users_name ON users (name);

CREATE TABLE api_keys (
	id SERIAL NOT NULL,
	user_id INTEGER NOT NULL,
	key_hash VARCHAR(64) NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(user_id) REFERENCES users (id)
);

CREATE UNIQUE INDEX ix_api_keys_key_hash ON api_keys (key_hash);

CREATE INDEX ix_api_keys_user_id ON api_keys (user_id);

CREATE TABLE human_task_candidates (
	status VARCHAR NOT NULL,
	process_type VARCHAR(100) NOT NULL,
	escalation_level INTEGER NOT NULL,
	escalated BOOLEAN NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	due_key TIMESTAMP WITH TIME ZONE NOT NULL,
	priority_key INTEGER NOT NULL,
	task_id VARCHAR(300) NOT NULL,
	audience VARCHAR(150) NOT NULL,
	PRIMARY KEY (task_id, audience),
	FOREIGN KEY(task_id) REFERENCES human_tasks (task_id)
);

CREATE INDEX ix_human_task_candidates_by_created ON human_task_candidates (audience, status, escalated, created_at, task_id, due_key);

CREATE INDEX ix_human_task_candidates_by_due ON human_task_candidates (audience, status, escalated, due_key, created_at, task_id);

CREATE INDEX ix_human_task_candidates_by_priority ON human_task_candidates (audience, status, escalated, priority_key, created_at, task_id, due_key);

CREATE INDEX ix_human_task_candidates_of_type_by_created ON human_task_candidates (audience, status, process_type, escalated, created_at, task_id, due_key);

CREATE INDEX ix_human_task_candidates_of_type_by_due ON human_task_candidates (audience, status, process_type, escalated, due_key, created_at, task_id);

CREATE INDEX ix_human_task_candidates_of_type_by_priority ON human_task_candidates (audience, status, process_type, escalated, priority_key, created_at, task_id, due_key);
