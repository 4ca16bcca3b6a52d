//! Enqueueing inside the application's own database transaction: an order
//! and the job that ships it are stored together, or not at all.
//!
//! The queue lives in the application's database file, beside its `orders`
//! table, so one SQLite transaction covers both.

#![expect(
    clippy::print_stdout,
    reason = "an example shows what happens on the terminal"
)]

use std::sync::Arc;
use std::time::Duration;

use queue_core::JobSpec;
use queue_store::rusqlite::{Connection, TransactionBehavior, params};
use queue_store::{SqliteStore, Store, sqlite};
use queue_worker::{JobContext, WorkerPool};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ship {
    order_id: i64,
}

/// Records an order and enqueues its shipping in one transaction. The stock
/// check comes after both writes, so a refusal must undo them: returning
/// early drops the transaction, which rolls it back.
fn place_order(conn: &mut Connection, item: &str) -> Result<i64, Box<dyn std::error::Error>> {
    // Immediate: take the write lock up front, so that a worker writing at
    // the same moment makes this wait rather than fail.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute("INSERT INTO orders (item) VALUES (?1)", params![item])?;
    let order_id = tx.last_insert_rowid();
    sqlite::enqueue_in(&tx, vec![JobSpec::typed("ship", &Ship { order_id })?])?;

    let in_stock: bool = tx.query_row(
        "SELECT count(*) > 0 FROM stock WHERE item = ?1",
        params![item],
        |row| row.get(0),
    )?;
    if !in_stock {
        return Err(format!("{item} is out of stock").into());
    }
    tx.commit()?;
    Ok(order_id)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("shop.db");

    // The application's database comes first, with tables of its own.
    let mut conn = Connection::open(&path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.execute_batch(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT NOT NULL, shipped INTEGER);
         CREATE TABLE stock (item TEXT PRIMARY KEY);
         INSERT INTO stock (item) VALUES ('tea');",
    )?;

    // The queue adds its tables beside them.
    let store = Arc::new(
        SqliteStore::builder(&path)
            .allow_application_tables(true)
            .open()?,
    );

    match place_order(&mut conn, "tea") {
        Ok(order) => println!("order {order} for tea placed; shipping is queued"),
        Err(err) => println!("order for tea refused: {err}"),
    }
    match place_order(&mut conn, "caviar") {
        Ok(order) => println!("order {order} for caviar placed; shipping is queued"),
        Err(err) => println!("order for caviar refused: {err}; nothing was stored"),
    }

    let orders: i64 = conn.query_row("SELECT count(*) FROM orders", [], |row| row.get(0))?;
    println!(
        "orders stored: {orders}; jobs stored: {}",
        store.counts()?.total()
    );

    // The worker writes to the application's table through a connection of
    // its own, as a handler in a real application would.
    let worker_path = path.clone();
    let pool = WorkerPool::builder(store.clone())
        .typed("ship", move |_ctx: &JobContext, ship: Ship| {
            let conn = Connection::open(&worker_path)?;
            conn.busy_timeout(Duration::from_secs(5))?;
            conn.execute(
                "UPDATE orders SET shipped = 1 WHERE id = ?1",
                [ship.order_id],
            )?;
            Ok(())
        })
        .start()?;
    pool.handle().shutdown_when_idle();
    let summary = pool.join()?;

    let shipped: i64 =
        conn.query_row("SELECT count(*) FROM orders WHERE shipped = 1", [], |row| {
            row.get(0)
        })?;
    println!(
        "shipping jobs completed: {}; orders shipped: {shipped}",
        summary.completed
    );
    Ok(())
}
