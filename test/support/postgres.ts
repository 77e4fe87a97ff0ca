/** The PostgreSQL helpers shared with scripts/ (the benchmark uses them too). */
export * from '../../scripts/lib/postgres.ts';
