//! Pooled PostgreSQL sessions: connection set-up and prepared statements.
//!
//! Each pooled connection keeps the statements it has prepared, so a hot
//! statement such as the claim costs one round trip instead of a prepare and
//! an execute. Every connection's `search_path` names the queue's schema, so
//! the SQL elsewhere never spells the schema out.

use std::collections::HashMap;

use postgres::types::ToSql;
use postgres::{Client, GenericClient, NoTls, Row, Statement};

use crate::Result;

/// A statement parameter.
pub(super) type Param<'a> = &'a (dyn ToSql + Sync);

/// Opens connections for the r2d2 pool.
#[derive(Debug)]
pub(super) struct Manager {
    pub(super) config: postgres::Config,
    pub(super) schema: String,
}

impl Manager {
    /// A new session on the queue's schema, outside the pool.
    pub(super) fn open(&self) -> std::result::Result<Client, postgres::Error> {
        // Known limitation: connections are never encrypted (`sslmode=require`
        // fails). TLS needs a TLS crate and its certificate set-up; until a
        // user needs it, the README says to keep the database on a private
        // network or tunnel to it.
        let mut client = self.config.connect(NoTls)?;
        client.batch_execute(&format!("SET search_path TO {}", quote_ident(&self.schema)))?;
        Ok(client)
    }
}

/// A pooled connection and the statements prepared on it.
pub(super) struct Conn {
    pub(super) client: Client,
    statements: HashMap<String, Statement>,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = postgres::Error;

    fn connect(&self) -> std::result::Result<Conn, postgres::Error> {
        Ok(Conn {
            client: self.open()?,
            statements: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut Conn) -> std::result::Result<(), postgres::Error> {
        conn.client.simple_query("").map(drop)
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.client.is_closed()
    }
}

/// Somewhere to run statements: a connection on its own (each statement
/// commits by itself) or a transaction.
pub(super) trait Session {
    /// Runs `sql` and returns every row.
    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>>;

    /// Runs `sql` and returns how many rows it changed.
    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64>;

    /// Runs `sql` and returns its first row, if any.
    fn query_opt(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

/// Prepares `sql` once per connection.
fn prepared(
    client: &mut impl GenericClient,
    statements: &mut HashMap<String, Statement>,
    sql: &str,
) -> Result<Statement> {
    if let Some(statement) = statements.get(sql) {
        return Ok(statement.clone());
    }
    let statement = client.prepare(sql)?;
    statements.insert(sql.to_owned(), statement.clone());
    Ok(statement)
}

impl Session for Conn {
    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        let statement = prepared(&mut self.client, &mut self.statements, sql)?;
        Ok(self.client.query(&statement, params)?)
    }

    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64> {
        let statement = prepared(&mut self.client, &mut self.statements, sql)?;
        Ok(self.client.execute(&statement, params)?)
    }
}

impl Conn {
    /// Starts a transaction that shares this connection's prepared statements.
    pub(super) fn transaction(&mut self) -> Result<Tx<'_>> {
        Ok(Tx {
            tx: self.client.transaction()?,
            statements: &mut self.statements,
        })
    }

    /// Starts a read-only transaction that sees one snapshot throughout.
    pub(super) fn snapshot(&mut self) -> Result<Tx<'_>> {
        let tx = self
            .client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        Ok(Tx {
            tx,
            statements: &mut self.statements,
        })
    }
}

/// An open transaction; dropped without [`Tx::commit`], it rolls back.
pub(super) struct Tx<'a> {
    tx: postgres::Transaction<'a>,
    statements: &'a mut HashMap<String, Statement>,
}

impl Tx<'_> {
    pub(super) fn commit(self) -> Result<()> {
        Ok(self.tx.commit()?)
    }

    /// Runs a batch of statements without parameters (schema changes).
    pub(super) fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.tx.batch_execute(sql)?)
    }

    /// Binds `sql` to a portal, from which rows are read a batch at a time.
    pub(super) fn portal(&mut self, sql: &str, params: &[Param<'_>]) -> Result<postgres::Portal> {
        let statement = prepared(&mut self.tx, self.statements, sql)?;
        Ok(self.tx.bind(&statement, params)?)
    }

    /// The next `max` rows of `portal`; fewer means it is exhausted.
    pub(super) fn fetch(&mut self, portal: &postgres::Portal, max: i32) -> Result<Vec<Row>> {
        Ok(self.tx.query_portal(portal, max)?)
    }
}

impl Session for Tx<'_> {
    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        let statement = prepared(&mut self.tx, self.statements, sql)?;
        Ok(self.tx.query(&statement, params)?)
    }

    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64> {
        let statement = prepared(&mut self.tx, self.statements, sql)?;
        Ok(self.tx.execute(&statement, params)?)
    }
}

/// Quotes an identifier for SQL text.
pub(super) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
