"""commerce: WooCommerce webhook deliveries, the last applied state of orders and subscriptions, and
the products that sell tracks and albums

Revision ID: 0007_wp
Revises: 0006_samples
"""
from alembic import op
import sqlalchemy as sa


revision = "0007_wp"
down_revision = "0006_samples"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "commerce_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("delivery_id", sa.String(length=64), nullable=False),
        sa.Column("webhook_id", sa.String(length=32), nullable=False),
        sa.Column("topic", sa.String(length=60), nullable=False),
        sa.Column("resource", sa.String(length=20), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.JSON(), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("applied_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("body_sha256", name="uq_commerce_deliveries_body_sha256"),
    )
    with op.batch_alter_table("commerce_deliveries") as batch:
        batch.create_index("ix_commerce_deliveries_delivery_id", ["delivery_id"])
        batch.create_index("ix_commerce_deliveries_received_at", ["received_at"])
    op.create_table(
        "commerce_resources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("wc_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("modified_at", sa.DateTime(), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("via", sa.String(length=20), nullable=False),
        sa.Column("applied_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "wc_id", name="uq_commerce_resource"),
    )
    op.create_table(
        "commerce_products",
        sa.Column("wc_product_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("permalink", sa.String(length=500), nullable=False),
        sa.Column("min_price", sa.String(length=20), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("wc_product_id"),
    )
    with op.batch_alter_table("commerce_products") as batch:
        batch.create_index("ix_commerce_products_scope", ["scope"])


def downgrade() -> None:
    op.drop_table("commerce_products")
    op.drop_table("commerce_resources")
    op.drop_table("commerce_deliveries")
