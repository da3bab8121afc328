-- One schema per layer; every stage can rely on these existing.
create schema if not exists raw;
create schema if not exists staging;
create schema if not exists training;
create schema if not exists registry;
create schema if not exists marts;
create schema if not exists ops;
